"""The command line starts without importing what its commands do not need (issue 16 item 3).

A budget in modules imported, not in seconds (timing is ``bench/startup.py``'s job):
each check runs in a fresh interpreter and reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Packages that cost a second or more to import between them; ``--help`` needs none.
HEAVY = ("pandas", "numpy", "pulp", "highspy", "ortools", "networkx", "scipy", "sqlalchemy", "pandera",
         "shapely", "pyproj", "argon2", "cryptography", "openpyxl", "alembic", "dask", "streamlit")
#: Modules ``import allocator.cli`` plus building the whole parser may load (about 110 today, of
#: which ~80 are the interpreter's own start-up).
HELP_MODULE_BUDGET = 160


def _modules(code: str) -> tuple[set[str], str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter, and its output."""
    probe = (f"{code}\nimport json, sys\n"
             "print('\\nMODULES=' + json.dumps(sorted(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    out, _, mods = r.stdout.rpartition("MODULES=")
    return set(json.loads(mods)), out


def _heavy(mods: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if h in mods)


def test_cli_entry_point_and_every_parser_import_nothing_heavy():
    mods, _ = _modules("import allocator.cli as c\nc.build_parser()")
    assert _heavy(mods) == []
    assert len(mods) <= HELP_MODULE_BUDGET, sorted(m for m in mods if m.startswith("allocator"))
    # every command module was imported (the parser lists them all)
    assert {"allocator.commands.store", "allocator.commands.routes", "allocator.commands.round"} <= mods


def test_help_of_every_command_imports_nothing_heavy():
    code = """
import contextlib, io
import allocator.cli as c
parser = c.build_parser()
sub = next(a for a in parser._actions if a.dest == "command")
names = list(sub.choices)
for name in names:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            c.main([name, "--help"])
        except SystemExit as exc:
            assert exc.code == 0, name
print(",".join(names))
"""
    mods, out = _modules(code)
    names = out.strip().split(",")
    assert {"validate", "round", "routes", "rounds", "publish", "verify"} <= set(names)
    assert _heavy(mods) == []


def test_import_allocator_is_light_and_allocate_stays_the_function():
    mods, _ = _modules("import allocator")
    assert _heavy(mods) == []
    mods, out = _modules("import allocator.allocate.result\nfrom allocator import allocate, Lock\n"
                         "import allocator\nprint(callable(allocate), allocate is allocator.allocate, Lock.__name__)")
    assert out.split()[-3:] == ["True", "True", "Lock"]
    assert "allocator.allocate.stages" in mods  # the optimiser is imported when asked for
    assert "pulp" not in mods  # PuLP only for CBC and written models (allocator.allocate.solver.PulpDriver)


def test_verify_does_not_import_the_optimiser_or_the_road_network(tmp_path):
    mods, _ = _modules("import contextlib, io\nimport allocator.cli as c\n"
                       f"with contextlib.redirect_stderr(io.StringIO()):\n    c.main(['verify', {str(tmp_path)!r}])")
    assert [m for m in ("pulp", "highspy", "ortools", "networkx", "scipy", "pandera") if m in mods] == []


def test_round_command_solver_choices_agree_with_the_library():
    from allocator.allocate import SOLVERS
    from allocator.commands.round import SOLVERS as CLI_SOLVERS

    assert tuple(CLI_SOLVERS) == tuple(SOLVERS)


@pytest.mark.parametrize("table", ["validate", "schema"])
def test_light_commands_run_without_the_optimiser(table):
    code = {"validate": "c.main(['validate', 'data/scenarios/wuhan-2020-02-10', '--quiet'])",
            "schema": "c.main(['schema'])"}[table]
    mods, _ = _modules(f"import contextlib, io\nimport allocator.cli as c\n"
                       f"with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
                       f"    {code}")
    assert [m for m in ("pulp", "highspy", "ortools", "networkx", "sqlalchemy") if m in mods] == []
