"""`synthshare keygen KEY`: a new Ed25519 key pair to sign releases with (`release --signing-key`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import handle_errors, print_plain


@handle_errors
def keygen(
    private_key: Annotated[Path, typer.Argument(help="Where to write the private key (PEM, owner-only). Keep it inside the hospital.")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Where to write the public key; default: PRIVATE_KEY with .pub appended.")
    ] = None,
) -> None:
    """Write a new Ed25519 key pair. Refuses to overwrite an existing key. Give partners the .pub file."""
    from synthshare.errors import BadInputError
    from synthshare.release.signing import generate_keypair

    public = public_key if public_key is not None else private_key.with_name(private_key.name + ".pub")
    if public.resolve() == private_key.resolve():
        raise BadInputError(f"{public}: the public key path equals the private key path; pass another --public-key")
    if public.exists():
        raise BadInputError(f"{public}: a file already exists there; choose another --public-key or remove it")
    if not private_key.parent.is_dir():
        raise BadInputError(f"{private_key.parent}: no such folder; create it first")
    generate_keypair(private_key_path=private_key, public_key_path=public)
    print_plain(f"private key: {private_key} (0600; never share it)")
    print_plain(f"public key:  {public} (give it to partners: synthshare verify RELEASE --public-key {public.name})")
