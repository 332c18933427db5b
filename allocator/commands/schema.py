"""``allocator schema``: print the scenario tables, or refresh them in a Markdown document."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the scenario format (every table and column)")
    p.add_argument("--docs", metavar="PATH", help="rewrite the generated part of this Markdown file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator import schema

    if args.docs:
        path = Path(args.docs)
        from allocator.fsutil import write_text

        write_text(path, schema.render_docs(path.read_text(encoding="utf-8")))
        print(f"updated {path}")
    else:
        print(schema.markdown())
    return 0
