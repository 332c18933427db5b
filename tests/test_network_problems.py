"""The road-file readers' problems carry codes with templates in both languages."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from allocator import i18n
from allocator.network import tables
from allocator.report import PROBLEM_CODES

ROOT = Path(__file__).resolve().parents[1]


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_network_code_has_both_languages_with_the_same_fields() -> None:
    assert not tables.NETWORK_PROBLEM_CODES & PROBLEM_CODES
    for code in tables.NETWORK_PROBLEM_CODES:
        en = i18n.catalogue("en")[f"problem.{code}"]
        zh = i18n.catalogue("zh")[f"problem.{code}"]
        assert _fields(en) == _fields(zh), code


def test_readers_use_only_known_codes_and_no_free_text() -> None:
    """Every problem the network package adds names a code; none is free text (``Report.add``/``warn``)."""
    used: set[str] = set()
    for path in (ROOT / "allocator" / "network").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            assert name not in ("add", "warn") or not isinstance(node.func, ast.Attribute) or (
                getattr(node.func.value, "id", "") not in ("report", "r")), f"{path.name}:{node.lineno}"
            if name in ("add_problem", "_one"):
                pos = 4 if name == "add_problem" else 3
                arg = node.args[pos]
                if isinstance(arg, ast.Name) and arg.id == "code":  # the helpers passing their argument on
                    continue
                assert isinstance(arg, ast.Constant), f"{path.name}:{node.lineno}"
                used.add(arg.value)
    assert used
    assert used <= tables.NETWORK_PROBLEM_CODES | PROBLEM_CODES
    assert tables.NETWORK_PROBLEM_CODES - used == set()


def test_add_problem_renders_in_chinese() -> None:
    r = tables.Report()
    tables.add_problem(r, "x.osm", 7, None, "road_osm_malformed", error="boom")
    p = r.problems[0]
    assert (p.code, p.params, str(p)) == ("road_osm_malformed", {"error": "boom"}, "x.osm:7: malformed XML: boom")
    assert p.render("zh") == "x.osm:7: XML 格式错误：boom"
