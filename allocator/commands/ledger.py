"""Ledger commands: ``publish``, ``verify``, ``receipt`` and ``ledger-key``.

- ``allocator publish --out DIR`` writes the signed public snapshot (``DIR`` becomes
  a link to a versioned folder, swapped in one rename after the database commit);
- ``allocator verify DIR [--since OLD] [--key PUBKEY]`` checks a publication from its
  files alone, that it extends an earlier one unchanged, and who signed it;
- ``allocator receipt check RECEIPT.json DIR`` checks a donor's receipt against a publication;
- ``allocator ledger-key`` prints the deployment's public key (for a deployment's README).

Exit codes: 0 verified, 1 not (one line naming the entry or file, in English by
default, ``--lang zh`` for Chinese).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="write the signed public donation snapshot")
    p.add_argument("--db", metavar="URL", help="database URL (default: $ALLOCATOR_DATABASE_URL or "
                   "sqlite:///var/allocator.db)")
    p.add_argument("--out", required=True, help="the published folder (a link to a versioned folder, swapped atomically)")
    p.add_argument("--by", default="", help="who publishes (recorded in the publications table)")
    p.add_argument("--key-file", metavar="PEM", help="the Ed25519 signing key (default: $ALLOCATOR_LEDGER_KEY "
                   "or var/keys/ledger-ed25519.pem; generated on first use)")
    p.add_argument("--site", metavar="DIR", help="also write the public page as a static website into DIR "
                   "(HTML, CSS, JS and data; serve it from any static host)")
    p.add_argument("--channels", metavar="TOML", help="with --site: the donation channels to show "
                   "(default: $ALLOCATOR_CHANNELS or var/channels.toml)")
    p.set_defaults(func=run_publish)

    p = sub.add_parser("verify", help="check a publication: every file recomputed from the signed hash chain")
    p.add_argument("dir", help="the published folder")
    p.add_argument("--since", metavar="OLD", help="an earlier publication (folder, or SEQ:HASH of its head) "
                   "this one must extend unchanged")
    p.add_argument("--key", metavar="PUBKEY", help="the signer's public key (64 hex digits, a file holding "
                   "them, or a signature.json) to pin")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the message")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("receipt", help="check a donor's receipt against a publication")
    rsub = p.add_subparsers(dest="receipt_command", metavar="ACTION", required=True)
    q = rsub.add_parser("check", help="is the receipt's entry still in the ledger, unchanged?")
    q.add_argument("receipt", help="the receipt (JSON file)")
    q.add_argument("dir", help="the published folder")
    q.add_argument("--lang", choices=["en", "zh"], default="en")
    q.set_defaults(func=run_receipt_check)

    p = sub.add_parser("receiver-site", help="link a receiver user to the site whose deliveries they confirm")
    p.add_argument("--db", metavar="URL", help="database URL")
    p.add_argument("user")
    p.add_argument("site_id")
    p.set_defaults(func=run_receiver_site)

    p = sub.add_parser("ledger-key", help="print the deployment's Ed25519 public key (generated on first use)")
    p.add_argument("--key-file", metavar="PEM", help="the signing key file")
    p.set_defaults(func=run_ledger_key)


def run_publish(args: argparse.Namespace) -> int:
    from allocator.commands.store import _session
    from allocator.ledger import publish

    with _session(args) as s:
        pub = publish(s, args.out, by=args.by, key_path=args.key_file)
    m = pub.manifest
    print(f"published {pub.out_dir} -> {pub.version_dir.name}: {pub.head_seq} ledger entries, head {pub.head_hash}, "
          f"previous head {m['previous']['seq']}, signed by {m['public_key']}")
    if args.site:
        from allocator.public import load_channels
        from allocator.site import write_site

        out = write_site(pub.out_dir, args.site, channels=load_channels(args.channels))
        print(f"site {out}: open {out}/index.html or serve the folder from any static host")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from allocator.ledger import verify
    from allocator.ledger.keys import read_public_key

    key = read_public_key(args.key) if args.key else None
    res = verify(args.dir, key=key, since=args.since)
    if res.ok:
        print(res.render(args.lang))
        return 0
    print(f"FAILED: {res.render(args.lang)}", file=sys.stderr)
    return 1


def run_receipt_check(args: argparse.Namespace) -> int:
    from allocator.i18n import t
    from allocator.store.donations import Receipt, check_receipt

    rc = Receipt.from_json(Path(args.receipt).read_text(encoding="utf-8"))
    res = check_receipt(rc, args.dir)
    text = t(res.code, args.lang, **res.params)
    print(text if res.ok else f"FAILED: {text}", file=sys.stdout if res.ok else sys.stderr)
    return 0 if res.ok else 1


def run_receiver_site(args: argparse.Namespace) -> int:
    from allocator.commands.store import _session
    from allocator.store.receivers import link_receiver

    with _session(args) as s:
        link_receiver(s, args.user, args.site_id)
    print(f"{args.user} confirms deliveries for site {args.site_id}: recorded as confirmed by the site")
    return 0


def run_ledger_key(args: argparse.Namespace) -> int:
    from allocator.ledger import keys

    print(keys.public_hex(keys.load_or_create_key(Path(args.key_file) if args.key_file else None)))
    return 0
