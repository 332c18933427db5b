"""Database commands: ``db``, ``import``, ``export``, ``users``, ``rounds``, ``publish``, ``verify``, ``backup``.

Each opens the database named by ``--db`` or ``$ALLOCATOR_DATABASE_URL``
(default: SQLite ``var/allocator.db``), creating or migrating it on first use,
and runs one transaction. Commands acting for a user (``rounds ...``) take
``--user NAME`` and the password from the environment variable named by
``--password-env`` or, when that is not given, from the first line of standard input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from allocator.cells import unescape_frame
from allocator.errors import InvalidRequestError, NotFoundError, StoreError


def _db_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", help="database URL (default: $ALLOCATOR_DATABASE_URL or "
                   "sqlite:///var/allocator.db)")
    return p


def _user_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--user", required=True, help="who does it")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the password (default: read it from stdin)")
    return p


def register(sub: argparse._SubParsersAction) -> None:
    db, usr = _db_parent(), _user_parent()

    p = sub.add_parser("db", help="create or migrate the database")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dsub.add_parser("init", parents=[db], help="create the database or bring it to the newest schema")
    q.set_defaults(func=run_db_init)

    p = sub.add_parser("import", parents=[db], help="import a scenario into the database")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--as-of", help="override as_of of scenario.toml")
    p.set_defaults(func=run_import)

    p = sub.add_parser("export", parents=[db], help="export the stored state as a scenario")
    p.add_argument("out", help="folder (or .xlsx) to write")
    p.add_argument("--available", action="store_true",
                   help="lots show what a new round may allocate (on hand minus reserved)")
    p.set_defaults(func=run_export)

    p = sub.add_parser("users", help="manage users")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    q = usub.add_parser("add", parents=[db], help="add a user (password from stdin or --password-env)")
    q.add_argument("name")
    q.add_argument("--role", action="append", choices=["officer", "approver", "admin"], required=True,
                   help="a role; repeat for several")
    q.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    q.set_defaults(func=run_users_add)
    q = usub.add_parser("list", parents=[db], help="list users and roles")
    q.set_defaults(func=run_users_list)

    p = sub.add_parser("rounds", help="allocation rounds in the database: create, approve, dispatch, deliver")
    rsub = p.add_subparsers(dest="rounds_command", metavar="ACTION", required=True)
    q = rsub.add_parser("create", parents=[db, usr], help="compute a round on the current stock and store it as a draft")
    q.add_argument("--allocations", metavar="DIR",
                   help="store a round computed elsewhere (a folder with allocations.csv, fill.csv, summary.json)")
    q.add_argument("--scenario", metavar="DIR",
                   help="the scenario that round was computed on (default: the current stock in the database)")
    q.add_argument("--out", metavar="DIR", help="also write the round's files here")
    q.set_defaults(func=run_rounds_create)
    for name, helptext in (("approve", "approve a draft (approver role)"), ("dispatch", "dispatch an approved round")):
        q = rsub.add_parser(name, parents=[db, usr], help=helptext)
        q.add_argument("round_id", type=int)
        if name == "approve":
            q.add_argument("--version", type=int, help="the version you reviewed (conflict if it changed)")
        else:
            q.add_argument("--trips", choices=["ortools", "greedy", "none"], default="ortools",
                           help="plan truck trips on the stored roads and vehicles (default: ortools, "
                                "greedy fallback); none leaves trucks unassigned")
            q.add_argument("--time-limit", type=float, default=2.0, metavar="S",
                           help="OR-Tools time limit per depot and wave (default 2 s)")
            q.add_argument("--trips-out", metavar="DIR", help="write the planned trips.csv and trip_manifest.csv here")
        q.set_defaults(func=run_rounds_step, step=name)
    q = rsub.add_parser("deliver", parents=[db, usr], help="confirm what arrived (one trip, or every open trip)")
    q.add_argument("round_id", type=int)
    q.add_argument("--trip", type=int, help="the trip confirmed (default: every unconfirmed trip)")
    q.add_argument("--discrepancy", action="append", default=[], metavar="LINE:RECEIVED:KIND:DISPOSITION[:REASON]",
                   help="a line that did not arrive as shipped: KIND short|damaged|wrong_item, "
                        "DISPOSITION returned|written_off (e.g. 3:80:damaged:written_off:crushed boxes)")
    q.set_defaults(func=run_rounds_deliver)
    q = rsub.add_parser("cancel", parents=[db, usr], help="cancel a draft or an approved round")
    q.add_argument("round_id", type=int)
    q.add_argument("--reason", default="")
    q.set_defaults(func=run_rounds_step, step="cancel")
    q = rsub.add_parser("list", parents=[db], help="list rounds")
    q.set_defaults(func=run_rounds_list)
    q = rsub.add_parser("show", parents=[db], help="show a round's lines (line ids for discrepancies)")
    q.add_argument("round_id", type=int)
    q.set_defaults(func=run_rounds_show)

    p = sub.add_parser("publish", parents=[db], help="write the public donation snapshot")
    p.add_argument("--out", required=True, help="folder to write (replaced atomically)")
    p.set_defaults(func=run_publish)

    p = sub.add_parser("verify", help="check a published snapshot: the hash chain and every total")
    p.add_argument("dir", help="the published folder")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("backup", parents=[db], help="write a consistent copy of the database")
    p.add_argument("out", help="file to write")
    p.set_defaults(func=run_backup)


# --------------------------------------------------------------------------- helpers


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Engine]:
    from allocator.store import open_db

    engine = open_db(args.db)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _session(args: argparse.Namespace, *, write: bool = True) -> Iterator[Session]:
    """One transaction on the database of ``--db`` (read-only unless ``write``): committed when the command succeeds."""
    from allocator.store import transaction

    with _engine(args) as engine, transaction(engine, write=write) as session:
        yield session


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        pw = os.environ.get(args.password_env)
        if pw is None:
            raise InvalidRequestError(f"environment variable {args.password_env} is not set")
        return pw
    line = sys.stdin.readline()
    if not line:
        raise InvalidRequestError("no password given: pass --password-env VAR or write it on standard input")
    return line.rstrip("\r\n")


def _login(session: Session, args: argparse.Namespace) -> str:
    from allocator.store import authenticate

    authenticate(session, args.user, _password(args))
    return args.user


# --------------------------------------------------------------------------- commands


def run_db_init(args: argparse.Namespace) -> int:
    from allocator.store import current_tables_url

    with _engine(args) as eng:
        print(f"ok: {current_tables_url(eng)} is at the newest schema")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from allocator.scenario import load
    from allocator.store import import_scenario

    sc = load(args.scenario, as_of=args.as_of)
    with _session(args) as s:
        summary = import_scenario(s, sc)
    rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items() if v)
    print(f"imported {sc.name}: {rows}; {summary.ledger_entries} ledger entries")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from allocator.scenario import save
    from allocator.store import export_scenario

    with _session(args, write=False) as s:
        sc = export_scenario(s, available=args.available)
    out = save(sc, args.out)
    print(f"wrote {out}")
    return 0


def run_users_add(args: argparse.Namespace) -> int:
    from allocator.store import add_user

    pw = _password(args)
    with _session(args) as s:
        add_user(s, args.name, pw, args.role)
    print(f"added user {args.name} ({', '.join(sorted(set(args.role)))})")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from allocator.store import models as m
    from allocator.store import user_roles

    with _session(args, write=False) as s:
        for u in s.scalars(select(m.User).order_by(m.User.name)):
            print(f"{u.name}\t{','.join(user_roles(s, u.name))}\t{'active' if u.active else 'inactive'}")
    return 0


def _read_round_dir(d: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    f = d / "allocations.csv"
    if not f.is_file():
        raise NotFoundError(f"{d}: no allocations.csv")
    alloc = pd.read_csv(f, dtype={"lot_id": str, "depot_id": str, "site_id": str, "item_id": str,
                                  "need_item_id": str}, keep_default_na=False, na_values={"travel_min": [""]})
    fill = None
    if (d / "fill.csv").is_file():
        fill = pd.read_csv(d / "fill.csv", dtype={"site_id": str, "item_id": str, "reason": str},
                           keep_default_na=False, na_values={"fill_ratio": [""]})
    summary = json.loads((d / "summary.json").read_text(encoding="utf-8")) if (d / "summary.json").is_file() else {}
    alloc, fill = unescape_frame(alloc), None if fill is None else unescape_frame(fill)  # see allocator.cells
    return alloc, fill, summary


def run_rounds_create(args: argparse.Namespace) -> int:
    from allocator.scenario import load
    from allocator.store import create_round, current_scenario

    with _session(args) as s:
        user = _login(s, args)
        state = load(args.scenario) if args.scenario else current_scenario(s)
        if args.allocations:
            alloc, fill, summary = _read_round_dir(Path(args.allocations))
        else:
            try:
                from allocator import allocate
            except ImportError as exc:
                raise StoreError("this build has no optimiser (allocator.allocate); "
                                 "pass --allocations DIR with a round computed elsewhere") from exc
            result = allocate(state)
            alloc, fill, summary = result.allocations, result.fill, result.summary
            if args.out:
                result.write(args.out)
        r = create_round(s, state, alloc, fill, summary, user)
        rid, n, units = r.id, len(alloc), int(alloc["quantity"].sum()) if len(alloc) else 0
    print(f"round {rid}: draft with {n} line(s), {units} unit(s); approve with "
          f"`allocator rounds approve {rid} --user APPROVER`")
    return 0


def _planned_vehicles(args: argparse.Namespace) -> dict[tuple[str, str], str] | None:
    """Plan the round's truck trips in a read-only session before the dispatch transaction."""
    if args.trips == "none":
        return None
    from allocator.fsutil import atomic_folder
    from allocator.store import plan_round_trips, vehicles_by_drop

    with _session(args) as s:
        planned = plan_round_trips(s, args.round_id, method=args.trips, time_limit_s=args.time_limit)
    if args.trips_out:
        with atomic_folder(args.trips_out) as tmp:
            planned.trips.to_csv(tmp / "trips.csv", index=False)
            planned.manifest.to_csv(tmp / "trip_manifest.csv", index=False)
            planned.unplanned.to_csv(tmp / "unplanned.csv", index=False)
    if len(planned.unplanned):
        print(f"warning: {len(planned.unplanned)} shipment line(s) no vehicle can carry; "
              "their trips go without a truck assigned", file=sys.stderr)
    return vehicles_by_drop(planned)


def run_rounds_step(args: argparse.Namespace) -> int:
    from allocator.store import approve_round, cancel_round, dispatch_round, trips

    # trips are planned read-only, before the dispatch transaction takes its write lock
    vehicles = _planned_vehicles(args) if args.step == "dispatch" else None
    with _session(args) as s:
        user = _login(s, args)
        if args.step == "approve":
            r = approve_round(s, args.round_id, user, expected_version=args.version)
        elif args.step == "dispatch":
            r = dispatch_round(s, args.round_id, user, vehicles=vehicles)
            extra = f" ({len(trips(s, r.id))} trip(s))"
        else:
            r = cancel_round(s, args.round_id, user, reason=args.reason)
        state = r.state
    print(f"round {args.round_id}: {state}{extra if args.step == 'dispatch' else ''}")
    return 0


def _parse_discrepancy(text: str) -> tuple[int, Any]:
    from allocator.store import Discrepancy

    parts = text.split(":", 4)
    if len(parts) < 4:
        raise InvalidRequestError(f"--discrepancy {text!r}: expected LINE:RECEIVED:KIND:DISPOSITION[:REASON]")
    try:
        line, received = int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise InvalidRequestError(f"--discrepancy {text!r}: LINE and RECEIVED must be whole numbers") from exc
    return line, Discrepancy(received=received, kind=parts[2], disposition=parts[3],
                             reason=parts[4] if len(parts) > 4 else "")


def run_rounds_deliver(args: argparse.Namespace) -> int:
    from allocator.store import confirm_delivery, get_round

    disc = dict(_parse_discrepancy(t) for t in args.discrepancy)
    with _session(args) as s:
        user = _login(s, args)
        out = confirm_delivery(s, args.round_id, user, trip_id=args.trip, discrepancies=disc)
        state = get_round(s, args.round_id).state
    n_disc = sum(1 for d in out if d.discrepancy)
    print(f"round {args.round_id}: {len(out)} line(s) confirmed, {n_disc} discrepancy(ies); round is {state}")
    return 0


def run_rounds_list(args: argparse.Namespace) -> int:
    from allocator.store import rounds_frame

    with _session(args, write=False) as s:
        df = rounds_frame(s)
    print(df.to_string(index=False) if len(df) else "no rounds")
    return 0


def run_rounds_show(args: argparse.Namespace) -> int:
    from allocator.store import get_round, lines_frame

    with _session(args, write=False) as s:
        r = get_round(s, args.round_id)
        df = lines_frame(s, r.id)
        print(f"round {r.id}: {r.state} (version {r.version}), created by {r.created_by}")
    print(df.to_string(index=False) if len(df) else "no lines")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from allocator.ledger import publish

    with _session(args) as s:
        pub = publish(s, args.out)
    print(f"published {pub.out_dir}: {pub.head_seq} ledger entries, head {pub.head_hash}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from allocator.ledger import verify

    res = verify(args.dir)
    if res.ok:
        print(res.message)
        return 0
    print(f"FAILED: {res.message}", file=sys.stderr)
    return 1


def run_backup(args: argparse.Namespace) -> int:
    from allocator.store import backup

    with _engine(args) as eng:
        out = backup(eng, args.out)
    print(f"wrote {out}")
    return 0
