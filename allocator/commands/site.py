"""``allocator site SNAPSHOT --out DIR``: the public donation page as a static website."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("site", help="write the public donation page of a published snapshot as a static website")
    p.add_argument("snapshot", help="a folder written by `allocator publish`")
    p.add_argument("--out", required=True, help="the site folder (replaced as a whole)")
    p.add_argument("--channels", help="TOML file with the donation channels to show (hotline, addresses, note)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator.public import load_channels, load_snapshot
    from allocator.site import write_site

    snap = load_snapshot(args.snapshot)
    out = write_site(snap, args.out, channels=load_channels(args.channels))
    state = "verified" if snap.verification.ok else f"NOT verified: {snap.verification}"
    print(f"site {out}: {len(snap.entries)} ledger entries, head {snap.head_hash[:16]}..., {state}; "
          f"open {out}/index.html or serve the folder from any static host")
    return 0
