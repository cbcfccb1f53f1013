"""Fidelity, utility and HTML reports of a synthetic cohort.

Everything here is meant to leave the hospital inside a release, so every public function returns
aggregates only: no real image, no real identifier, no real per-subject value.
"""

from synthshare.reports.curves import volume_curve_band
from synthshare.reports.fidelity import fidelity_report
from synthshare.reports.html import render_report_html
from synthshare.reports.utility import utility_report

__all__ = ["fidelity_report", "render_report_html", "utility_report", "volume_curve_band"]
