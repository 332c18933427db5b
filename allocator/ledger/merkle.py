"""A Merkle tree over the ledger's entry hashes, with compact inclusion proofs (RFC 9162, section 2.1).

Leaves are the entries' hashes in seq order: ``leaf = SHA-256(0x00 || bytes(entry hash))``,
``node = SHA-256(0x01 || left || right)``, the tree of ``n`` leaves splits at the
largest power of two below ``n``. Every manifest publishes the root of the
tree over its entries (``merkle_root``); a donor's receipt holds their entry's
seq and hash, and :func:`inclusion_proof` gives the ``log2(n)`` sibling hashes that
lead from it to a published root, so anyone can check that the entry is still
in a later, signed publication without downloading the whole ledger.

Examples
--------
>>> hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(7)]
>>> root = merkle_root(hashes)
>>> proof = inclusion_proof(hashes, 4)
>>> verify_inclusion(hashes[4], 4, 7, proof, root), verify_inclusion(hashes[3], 4, 7, proof, root)
(True, False)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def _leaf(h: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def merkle_root(hashes: Sequence[str]) -> str:
    """Root (hex) of the tree over the entry hashes; SHA-256 of nothing for no entries."""
    if not hashes:
        return EMPTY_ROOT
    return _root([_leaf(h) for h in hashes]).hex()


def _path(leaves: Sequence[bytes], m: int) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_path(leaves[:k], m), _root(leaves[k:])]
    return [*_path(leaves[k:], m - k), _root(leaves[:k])]


def inclusion_proof(hashes: Sequence[str], index: int) -> list[str]:
    """Sibling hashes (hex, leaf to root) proving entry ``index`` (0-based: seq - 1) is in the tree."""
    if not 0 <= index < len(hashes):
        raise IndexError(f"entry {index + 1} is not among {len(hashes)} entries")
    return [p.hex() for p in _path([_leaf(h) for h in hashes], index)]


def verify_inclusion(entry_hash: str, index: int, size: int, proof: Sequence[str], root: str) -> bool:
    """Whether ``proof`` leads from entry ``index`` (0-based) of a tree of ``size`` leaves to ``root``."""
    try:
        if not 0 <= index < size:
            return False
        fn, sn = index, size - 1
        r = _leaf(entry_hash)
        for p in proof:
            pb = bytes.fromhex(p)
            if sn == 0:
                return False
            if fn % 2 == 1 or fn == sn:
                r = _node(pb, r)
                if fn % 2 == 0:
                    while fn % 2 == 0 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                r = _node(r, pb)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r.hex() == root
    except (ValueError, TypeError):
        return False
