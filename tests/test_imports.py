"""Imports flow one way: schema -> scenario -> validate -> demand -> network -> allocate -> store/ledger -> UI.

The graph counts every ``import`` and ``from ... import`` of ``allocator``
anywhere in a module (also inside functions and under ``TYPE_CHECKING``):
``from allocator import x`` is an edge to ``allocator.x`` when ``x`` is a
module, else to ``allocator``; relative imports are resolved.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "allocator"

#: Import cycles tolerated, as sets of modules: none.
ALLOWED_CYCLES: list[frozenset[str]] = []

#: The layers, lowest first: a module may import its own layer and the layers below it, never one
#: above. A module is in the layer of the longest prefix listed; modules not listed (the package
#: facade, the command line, the pages' libraries, examples, synthetic scenarios, sweeps) are the top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("allocator.errors", "allocator.i18n", "allocator.report", "allocator.cells", "allocator.fsutil",
              "allocator.geo", "allocator.speeds", "allocator.schema")),
    # allocator.rules (branch rules: the rules as functions of plain frames) sits with the parser, which
    # applies the usable-lot rule in its warnings; it must not import allocator.scenario
    ("scenario", ("allocator.tables", "allocator.rules", "allocator.parse", "allocator.workbook", "allocator.scenario")),
    ("validate", ("allocator.validate",)),
    ("demand", ("allocator.demand",)),
    ("network", ("allocator.network",)),
    ("allocate", ("allocator.allocate", "allocator.testing")),
    ("store/ledger", ("allocator.store", "allocator.ledger")),
]


def module_names() -> dict[str, Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> nx.DiGraph:
    """Module -> module it imports, for every module of ``allocator/``."""
    mods = module_names()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    g = nx.DiGraph()
    for mod, path in mods.items():
        g.add_node(mod)
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                if t == "allocator" or t.startswith("allocator."):
                    r = resolve(t)
                    if r and r != mod:
                        g.add_edge(mod, r)
    return g


def layer_of(mod: str) -> int:
    best, rank = -1, len(LAYERS)
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    return rank


def layer_name(rank: int) -> str:
    return LAYERS[rank][0] if rank < len(LAYERS) else "top"


def test_graph_sees_imports_inside_functions():
    g = import_graph()
    # scenario.save imports the workbook writer inside the function; the ledger package imports its database
    # half (allocator.store.ledger) on first use, inside its __getattr__
    assert g.has_edge("allocator.scenario", "allocator.workbook")
    assert g.has_edge("allocator.ledger", "allocator.store.ledger")
    assert len(g) > 80


def test_no_import_cycle():
    g = import_graph()
    cycles = [frozenset(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    unexpected = [c for c in cycles if c not in ALLOWED_CYCLES]
    lines = []
    for c in unexpected:
        for cyc in list(nx.simple_cycles(g.subgraph(c)))[:5]:
            lines.append(" -> ".join([*cyc, cyc[0]]))
    assert not unexpected, "import cycles:\n" + "\n".join(lines)
    for c in ALLOWED_CYCLES:
        assert all(m.startswith("allocator.network.") for m in c), f"only network/ cycles may be allowed: {c}"


def test_layers_hold():
    g = import_graph()
    wrong = sorted(f"{a} ({layer_name(layer_of(a))}) imports {b} ({layer_name(layer_of(b))})"
                   for a, b in g.edges if layer_of(b) > layer_of(a))
    assert not wrong, "imports that run back up:\n" + "\n".join(wrong)


def test_scenario_never_imports_the_validator():
    g = import_graph()
    assert not g.has_edge("allocator.scenario", "allocator.validate")
    assert "allocator.validate" not in nx.descendants(g, "allocator.scenario")


def test_pure_ledger_has_no_database():
    """Every module of ``allocator/ledger/`` but the package's facade is free of the database."""
    g = import_graph()
    for mod in g:
        if mod.startswith("allocator.ledger."):
            below = nx.descendants(g, mod)
            assert not {m for m in below if m.startswith("allocator.store")}, mod
            source = module_names()[mod].read_text(encoding="utf-8")
            assert "sqlalchemy" not in source, mod


@pytest.mark.parametrize("mod", [
    "allocator.store.ledger",
    pytest.param("allocator.ledger.chain", marks=pytest.mark.slow),
    pytest.param("allocator.parse", marks=pytest.mark.slow),
    pytest.param("allocator.tables", marks=pytest.mark.slow),
])
def test_each_module_imports_first(mod):
    """Importing any one module first works (no import order only a cycle would need)."""
    import os
    import subprocess
    import sys

    code = (f"import {mod}\nfrom allocator.ledger import publish, append\nimport allocator.ledger as L\n"
            "from allocator.scenario import load, Scenario\nfrom allocator.validate import validate, Report\n"
            "assert callable(publish) and callable(append) and L.publish is publish and L.usage_tables.__module__ == 'allocator.store.ledger'")
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT.parent)
    assert r.returncode == 0, r.stderr
