"""Ed25519 signatures over the manifest bytes (`cryptography`), and key generation.

The signature file holds the base64 of the 64-byte signature and a newline. Keys are PEM:
PKCS#8 private key (written 0600, unencrypted) and SubjectPublicKeyInfo public key.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from synthshare.atomic import atomic_write_bytes
from synthshare.errors import BadInputError


def generate_keypair(*, private_key_path: Path, public_key_path: Path) -> None:
    """Write a new Ed25519 key pair; refuses to overwrite an existing private key."""
    private_key_path, public_key_path = Path(private_key_path), Path(public_key_path)
    if private_key_path.exists():
        raise BadInputError(f"{private_key_path}: a key already exists there; choose another path or remove it")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # 0600 from the first byte: the temp file is created owner-only and keeps that mode when renamed
    _write_key(path=private_key_path, data=private_pem, mode=0o600)
    try:
        _write_key(path=public_key_path, data=public_pem, mode=0o644)
    except BaseException:
        private_key_path.unlink(missing_ok=True)  # no half pair: a retry must not hit "already exists"
        raise


def _write_key(*, path: Path, data: bytes, mode: int) -> None:
    try:
        atomic_write_bytes(path=path, data=data, mode=mode)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise BadInputError(f"{path}: cannot write the key ({reason}); choose a writable path") from err


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise BadInputError(f"{path}: not a readable unencrypted PEM private key ({err}); pass an Ed25519 key") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInputError(f"{path}: the private key is {type(key).__name__}, not Ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable PEM public key ({err}); pass the release's Ed25519 public key") from err
    if not isinstance(key, Ed25519PublicKey):
        raise BadInputError(f"{path}: the public key is {type(key).__name__}, not Ed25519")
    return key


def sign(*, private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The signature file's bytes for ``data`` (Ed25519 is deterministic: same key, same bytes)."""
    return base64.b64encode(private_key.sign(data)) + b"\n"


def signature_valid(*, public_key: Ed25519PublicKey, data: bytes, signature_file: bytes) -> bool:
    try:
        raw = base64.b64decode(signature_file.strip(), validate=True)
        public_key.verify(raw, data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
