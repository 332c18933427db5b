"""Database commands: ``db``, ``import``, ``export``, ``users``, ``rounds``, ``backup`` (publication: ``ledger.py``).

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
from typing import TYPE_CHECKING, Any

from allocator.cells import unescape_frame
from allocator.errors import InvalidRequestError, NotFoundError, StoreError

if TYPE_CHECKING:  # imported when a command runs, not when the CLI starts
    import pandas as pd
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session


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

    p = sub.add_parser("export", parents=[db], help="export the stored state (or a scenario) as a folder or workbook")
    p.add_argument("out", help="folder, or .xlsx workbook (typed cells, names beside ids), to write")
    p.add_argument("--from", dest="source", metavar="SCENARIO",
                   help="export this scenario folder or workbook instead of the database")
    p.add_argument("--available", action="store_true",
                   help="lots show what a new round may allocate (on hand minus reserved), needs what is outstanding")
    p.set_defaults(func=run_export)

    p = sub.add_parser("users", help="manage users")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    q = usub.add_parser("add", parents=[db], help="add a user (password from stdin or --password-env)")
    q.add_argument("name")
    q.add_argument("--role", action="append", choices=["officer", "approver", "admin", "receiver"], required=True,
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
    q = rsub.add_parser("correct", parents=[db, usr],
                        help="correct a confirmed delivery (the earlier confirmation is kept)")
    q.add_argument("round_id", type=int)
    q.add_argument("line_id", type=int, help="the line (see `rounds show`)")
    q.add_argument("--received", type=int, required=True, help="units that really arrived in good order")
    q.add_argument("--kind", default="short", choices=["short", "damaged", "wrong_item"],
                   help="what happened to the rest (default short)")
    q.add_argument("--disposition", default="returned", choices=["returned", "written_off"],
                   help="where the rest went (default returned)")
    q.add_argument("--reason", required=True, help="why the confirmation is corrected")
    q.set_defaults(func=run_rounds_correct)
    q = rsub.add_parser("cancel", parents=[db, usr], help="cancel a draft or an approved round")
    q.add_argument("round_id", type=int)
    q.add_argument("--reason", default="")
    q.set_defaults(func=run_rounds_step, step="cancel")
    q = rsub.add_parser("coverage", parents=[db],
                        help="per need: requested, covered by earlier rounds, outstanding")
    q.add_argument("--out", metavar="FILE", help="write it as CSV")
    q.set_defaults(func=run_rounds_coverage)
    q = rsub.add_parser("list", parents=[db], help="list rounds")
    q.set_defaults(func=run_rounds_list)
    q = rsub.add_parser("show", parents=[db], help="show a round's lines (line ids for discrepancies)")
    q.add_argument("round_id", type=int)
    q.set_defaults(func=run_rounds_show)

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
    from allocator.i18n import t
    from allocator.scenario import load
    from allocator.store import import_scenario
    from allocator.store import models as m
    from allocator.store.scenario_io import export_scenario, table_changes

    sc = load(args.scenario, as_of=args.as_of)
    with _session(args) as s:
        old = export_scenario(s) if s.get(m.ScenarioInfo, 1) is not None else None
        summary = import_scenario(s, sc)
    rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items() if v)
    print(t("records.import.first" if summary.first else "records.import.stock_take", name=sc.name, rows=rows,
            entries=summary.ledger_entries))
    if old is not None:
        changes = [c for c in table_changes(old, sc) if c.added or c.removed or c.changed]
        for c in changes:
            print(t("records.import.table", table=c.table, added=c.added, removed=c.removed, changed=c.changed,
                    same=c.same))
        if not changes:
            print(t("records.import.unchanged"))
        if summary.adjustments:
            print(t("records.import.adjustments", n=len(summary.adjustments),
                    plus=sum(d for _, d in summary.adjustments if d > 0),
                    minus=-sum(d for _, d in summary.adjustments if d < 0)))
        if summary.needs is not None and (summary.needs.replaced or summary.needs.added or summary.needs.withdrawn):
            n = summary.needs
            print(t("records.import.needs", added=len(n.added), replaced=len(n.replaced), kept=len(n.kept),
                    withdrawn=len(n.withdrawn)))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from allocator.scenario import load, save
    from allocator.store import export_scenario

    if args.source:
        if args.available:
            raise StoreError("--available needs the database: it cannot be used with --from")
        sc = load(args.source)
    else:
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
    import pandas as pd

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
        covered = None if args.scenario else _coverage_report(s, state, args.out)
        if args.allocations:
            alloc, fill, summary = _read_round_dir(Path(args.allocations))
        else:
            from allocator import allocate

            result = allocate(state)
            alloc, fill, summary = result.allocations, result.fill, result.summary
            if args.out:
                result.write(args.out)
        if covered and args.out:
            _write_coverage(_coverage_frame(s, state), Path(args.out) / "coverage.csv")
        r = create_round(s, state, alloc, fill, summary, user)
        rid, n, units = r.id, len(alloc), int(alloc["quantity"].sum()) if len(alloc) else 0
    if covered:
        print("\n".join(covered))
    print(f"round {rid}: draft with {n} line(s), {units} unit(s); approve with "
          f"`allocator rounds approve {rid} --user APPROVER`")
    return 0


def _coverage_report(session: Session, state: Any, out: str | None, limit: int = 10) -> list[str]:
    """Lines saying how much of each need earlier rounds already cover (``coverage.csv`` in ``out``)."""
    from allocator.i18n import t
    from allocator.store.needs import coverage

    cov = coverage(session)
    if cov.empty:
        return []
    sites = state.sites.set_index("site_id").name.to_dict() if state.has("sites") else {}
    items = state.items.set_index("item_id").name.to_dict() if state.has("items") else {}
    hit = cov[cov.covered > 0]
    if hit.empty:
        return [t("records.coverage.none", needs=len(cov))]
    lines = [t("records.coverage.summary", needs=len(cov), full=int(((cov.outstanding == 0) & (cov.covered > 0)).sum()),
               part=int(((cov.outstanding > 0) & (cov.covered > 0)).sum()),
               covered=f"{hit.covered.sum():,.0f}", requested=f"{cov.requested.sum():,}",
               outstanding=f"{cov.outstanding.sum():,}")]
    for r in hit.head(limit).itertuples(index=False):
        lines.append(t("records.coverage.line", site_id=r.site_id, site_name=sites.get(r.site_id, ""),
                       item_id=r.item_id, item_name=items.get(r.item_id, ""), requested=f"{r.requested:,}",
                       covered=f"{r.covered:,.0f}", rounds=r.rounds, outstanding=f"{r.outstanding:,}"))
    if len(hit) > limit:
        lines.append(t("records.coverage.more", n=len(hit) - limit,
                       file=str(Path(out) / "coverage.csv") if out else "`allocator rounds coverage`"))
    return lines


def _coverage_frame(session: Session, state: Any) -> pd.DataFrame:
    """The coverage table with site and item names beside the ids."""
    from allocator.store.needs import coverage

    cov = coverage(session)
    sites = state.sites.set_index("site_id").name.to_dict() if state.has("sites") else {}
    items = state.items.set_index("item_id").name.to_dict() if state.has("items") else {}
    cov.insert(1, "site_name", cov.site_id.map(sites).fillna(""))
    cov.insert(3, "item_name", cov.item_id.map(items).fillna(""))
    return cov


def _write_coverage(cov: pd.DataFrame, path: Path) -> None:
    from allocator.cells import escape_frame
    from allocator.fsutil import write_csv

    write_csv(escape_frame(cov), path)


def run_rounds_coverage(args: argparse.Namespace) -> int:
    from allocator.store import current_scenario

    with _session(args) as s:
        cov = _coverage_frame(s, current_scenario(s))
    if args.out:
        _write_coverage(cov, Path(args.out))
        print(f"wrote {args.out}")
    else:
        print(cov.to_string(index=False) if len(cov) else "no needs")
    return 0


def _planned_vehicles(args: argparse.Namespace) -> tuple[dict[tuple[str, str], str] | None, Any]:
    """Plan the round's truck trips in a read-only session before the dispatch transaction."""
    if args.trips == "none":
        return None, None
    from allocator.commands.routes import console_progress
    from allocator.store import plan_round_trips, vehicles_by_drop

    with _session(args) as s:
        planned = plan_round_trips(s, args.round_id, method=args.trips, time_limit_s=args.time_limit,
                                   progress=console_progress())
    if len(planned.unplanned):
        print(f"warning: {len(planned.unplanned)} shipment line(s) no vehicle can carry; "
              "their trips go without a truck assigned", file=sys.stderr)
    return vehicles_by_drop(planned), planned


def run_rounds_step(args: argparse.Namespace) -> int:
    from allocator.store import approve_round, cancel_round, dispatch_round, trips

    # trips are planned read-only, before the dispatch transaction takes its write lock
    vehicles, planned = _planned_vehicles(args) if args.step == "dispatch" else (None, None)
    with _session(args) as s:
        user = _login(s, args)
        if args.step == "approve":
            r = approve_round(s, args.round_id, user, expected_version=args.version)
        elif args.step == "dispatch":
            r = dispatch_round(s, args.round_id, user, vehicles=vehicles)
            stored = trips(s, r.id)
            trip_ids = {(t.depot_id, t.site_id): t.id for t in stored}
            extra = f" ({len(stored)} trip(s)" + (f" on {planned.n_trips} truck run(s))" if planned else ")")
        else:
            r = cancel_round(s, args.round_id, user, reason=args.reason)
        state = r.state
    if planned is not None and args.trips_out:
        # written once the trips are stored: trip_id is the number `rounds deliver --trip` takes
        from allocator.fsutil import atomic_folder
        from allocator.network.trips import write_trip_sheets

        with atomic_folder(args.trips_out) as tmp:
            write_trip_sheets(planned, tmp, trip_ids)
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


def run_rounds_correct(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from allocator.i18n import t
    from allocator.store import Discrepancy, correct_delivery
    from allocator.store import models as m

    with _session(args) as s:
        user = _login(s, args)
        a = s.get(m.Allocation, args.line_id)
        old = s.scalars(select(m.Delivery).where(m.Delivery.allocation_id == args.line_id)).first()
        before = None if old is None else old.received
        full = a is not None and args.received == a.quantity
        d = None if full else Discrepancy(received=args.received, kind=args.kind, disposition=args.disposition,
                                          reason=args.reason if args.disposition == "written_off" else "")
        dl = correct_delivery(s, args.round_id, args.line_id, user, d, reason=args.reason)
        after = dl.received
    print(t("records.delivery.corrected", round_id=args.round_id, line_id=args.line_id, old=before, new=after))
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


def run_backup(args: argparse.Namespace) -> int:
    from allocator.store import backup

    with _engine(args) as eng:
        out = backup(eng, args.out)
    print(f"wrote {out}")
    return 0
