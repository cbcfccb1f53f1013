"""The steward's secret keys: created once per machine, owner-only from the first byte, never published.

    $SYNTHSHARE_HOME (default ~/.synthshare)/
        fingerprint.key   keys the published provenance hashes (data fingerprint, stage hashes);
                          the steward may show it to an auditor to prove which data and run made a release
        dp-noise.key      seeds every DP random draw (statistics noise, Poisson sampling, DP-SGD noise);
                          never shown to anyone: whoever holds it can replay the noise and undo the guarantee

Two files, not one key under two labels, so that proving provenance to an auditor never hands over
the DP noise. Under DP, the seeds of the random draws are HMAC-SHA256(dp-noise key, label): the same
key gives the same draws (the steward can reproduce a run), a release alone gives none of them.
Several processes (torchrun ranks) may create a key at once: exactly one file wins, every process reads it.
Runs on several machines need the same key files under each machine's $SYNTHSHARE_HOME.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Literal

from synthshare.atomic import fsync_dir
from synthshare.errors import BadInputError

KeyName = Literal["fingerprint", "dp-noise"]
KEY_BYTES = 32


class StewardKeyError(BadInputError):
    """A key file exists but cannot be used (unreadable, too short, readable by others)."""


def steward_home() -> Path:
    return Path(os.environ.get("SYNTHSHARE_HOME") or Path.home() / ".synthshare")


def key_path(name: KeyName) -> Path:
    return steward_home() / f"{name}.key"


def load_key(name: KeyName) -> bytes:
    """The key `name`, created (32 random bytes, mode 0600, folder 0700) if this machine has none yet."""
    path = key_path(name)
    if not path.exists():
        _create(path)
    return _read(path)


def key_id(key: bytes) -> str:
    """A public name for a key: tells two keys apart, reveals nothing of them."""
    return hashlib.sha256(b"synthshare-key-id" + key).hexdigest()[:16]


def keyed_hash(*, name: KeyName, message: bytes) -> dict[str, str]:
    """HMAC-SHA256 of `message` under key `name`, with the key's id: what provenance publishes."""
    key = load_key(name)
    return {"algorithm": "hmac-sha256", "key_id": key_id(key), "value": hmac.new(key, message, hashlib.sha256).hexdigest()}


def dp_noise_seed(*, stage: str, seed: int) -> int:
    """The secret 63-bit seed of one stage's DP randomness: HMAC(dp-noise key, label, stage, config seed)."""
    message = b"\x00".join([b"synthshare-dp-noise", stage.encode(), str(int(seed)).encode()])
    digest = hmac.new(load_key("dp-noise"), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits torch.manual_seed and numpy alike


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The key goes into a private temp file first, then is hard-linked into place: the key file is
    # never visible half-written, and link() fails if another process won the race (its key is kept).
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: theirs is the key
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)  # the new name survives a crash


def _read(path: Path) -> bytes:
    try:
        key = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as err:
        raise StewardKeyError(f"{path}: cannot read the steward key ({err}); fix its permissions or point "
                              "$SYNTHSHARE_HOME at the folder that holds the keys") from err
    if len(key) < KEY_BYTES:
        raise StewardKeyError(f"{path}: holds {len(key)} bytes, not a {KEY_BYTES}-byte key; restore it from a backup "
                              "(or delete it to make a new key: earlier releases then no longer match)")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StewardKeyError(f"{path}: readable by other users (mode {stat.S_IMODE(mode):o}); "
                              f"run `chmod 600 {path}` and consider the key leaked if others could log in")
    return key
