"""Imports of ``allocator.network`` flow one way: no circle inside it, nothing imported from above it.

Every import counts, also those inside functions (as ``/work/team/cycles.py`` counts them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "allocator"
#: Layers above the network (schema -> scenario -> validate -> demand -> network -> allocate -> store/ledger -> UI).
ABOVE = ("allocator.allocate", "allocator.store", "allocator.ledger", "allocator.commands", "allocator.cli",
         "allocator.site", "allocator.public", "allocator.opsview", "allocator.overview", "allocator.roundwork",
         "allocator.sweep", "allocator.tripsheet", "allocator.upload", "allocator.jobs", "allocator.history",
         "allocator.compare", "allocator.workbook", "allocator.synth")


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _graph(mods: dict[str, Path], only: str) -> nx.DiGraph:
    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    g = nx.DiGraph()
    for m, p in mods.items():
        if not m.startswith(only):
            continue
        g.add_node(m)
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    b = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(b + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                r = resolve(t) if t.startswith("allocator") else ""
                if r and r != m:
                    g.add_edge(m, r)
    return g


def test_no_import_circle_inside_network() -> None:
    g = _graph(_modules(), "allocator.network")
    inner = g.subgraph([n for n in g if n.startswith("allocator.network")])
    assert list(nx.simple_cycles(inner)) == []


def test_network_imports_nothing_from_above() -> None:
    g = _graph(_modules(), "allocator.network")
    up = sorted((a, b) for a, b in g.edges if a.startswith("allocator.network") and b.startswith(ABOVE))
    assert up == []
