"""synthshare: privacy-preserving synthetic 4D cine cardiac MRI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthshare")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
