"""The deployment's Ed25519 signing key (``cryptography``; no hand-made crypto).

The private key is a PKCS#8 PEM file at ``$ALLOCATOR_LEDGER_KEY``, or
``var/keys/ledger-ed25519.pem`` under the working folder; it is generated on
first use with mode 0600 and never written into a published folder. Its public
half (32 bytes, hex) is published with every snapshot (``signature.json``) and
is what a reader pins with ``allocator verify --key``.
"""

from __future__ import annotations

import os
from pathlib import Path

from allocator.ledger.chain import LedgerError

KEY_ENV = "ALLOCATOR_LEDGER_KEY"
DEFAULT_KEY = Path("var") / "keys" / "ledger-ed25519.pem"
ALGORITHM = "Ed25519"


def key_path() -> Path:
    """Where the deployment's private key lives."""
    env = os.environ.get(KEY_ENV, "").strip()
    return Path(env) if env else DEFAULT_KEY


def load_or_create_key(path: Path | None = None):  # -> Ed25519PrivateKey
    """The private key at ``path`` (default :func:`key_path`), generated there on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(path) if path is not None else key_path()
    if p.is_file():
        try:
            key = serialization.load_pem_private_key(p.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise LedgerError(f"{p}: not a PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise LedgerError(f"{p}: not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, p)  # never replaces a key another process created meanwhile
    except FileExistsError:
        os.unlink(tmp)
        return load_or_create_key(p)
    os.unlink(tmp)
    return key


def public_hex(key) -> str:
    """The raw 32-byte public key of a private key, as 64 hex digits."""
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign(key, data: bytes) -> str:
    """Ed25519 signature (64 bytes, hex) of ``data``."""
    return key.sign(data).hex()


def check_signature(public_key_hex: str, signature_hex: str, data: bytes) -> bool:
    """Whether ``signature_hex`` is a valid Ed25519 signature of ``data`` by ``public_key_hex``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        pub.verify(bytes.fromhex(signature_hex), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def read_public_key(text: str) -> str:
    """A pinned key given as 64 hex digits or a file holding them (or a ``signature.json``)."""
    import json

    t = text.strip()
    if len(t) == 64 and all(c in "0123456789abcdefABCDEF" for c in t):
        return t.lower()
    p = Path(t)
    if p.is_dir():
        p = p / "signature.json"
    if not p.is_file():
        raise LedgerError(f"--key {text!r}: neither 64 hex digits nor a readable file")
    body = p.read_text(encoding="utf-8").strip()
    if p.suffix == ".json":
        try:
            body = str(json.loads(body).get("public_key", ""))
        except (ValueError, AttributeError) as exc:
            raise LedgerError(f"{p}: not a signature.json ({exc})") from exc
    if len(body) == 64 and all(c in "0123456789abcdefABCDEF" for c in body):
        return body.lower()
    raise LedgerError(f"{p}: does not hold a 64-hex-digit Ed25519 public key")
