"""Problems and errors carry stable codes with parameters, and every code is in both catalogues."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import allocator
from allocator import errors, i18n
from allocator.report import PROBLEM_CODES, Problem, Report

SRC = Path(allocator.__file__).parent
LANGS = ("en", "zh")


def _calls(predicate):
    """(file, call) for every call in the library's source that ``predicate`` accepts."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and predicate(node):
                yield path.relative_to(SRC.parent), node


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def test_every_problem_code_has_a_template_in_both_languages_with_the_same_fields():
    for code in PROBLEM_CODES:
        fields = {lang: i18n.fields(i18n.catalogue(lang)[f"problem.{code}"]) for lang in LANGS
                  if f"problem.{code}" in i18n.catalogue(lang)}
        assert set(fields) == set(LANGS), f"problem.{code} missing in {set(LANGS) - set(fields)}"
        assert fields["en"] == fields["zh"], code


def test_every_problem_code_the_source_emits_is_registered_with_its_parameters():
    # report.problem(file, row, column, "code", ...), report.warning(...), _problem(file, line, "code", ...)
    seen: set[str] = set()
    for where, call in _calls(lambda c: _name(c) in ("problem", "warning", "_problem")):
        pos = 2 if _name(call) == "_problem" else 3
        if len(call.args) <= pos or not isinstance(call.args[pos], ast.Constant):
            continue
        code = call.args[pos].value
        seen.add(code)
        assert code in PROBLEM_CODES, f"{where}:{call.lineno}: unregistered problem code {code!r}"
        given = {k.arg for k in call.keywords} - {"severity"}
        need = i18n.fields(i18n.catalogue("en")[f"problem.{code}"])
        assert need <= given, f"{where}:{call.lineno}: {code} needs {need - given}"
    # the registry lists nothing that nothing emits (besides the free-text fallback): codes given
    # through a helper (``bad(i, "not_bool")``, ``_describe_check``) appear as string constants
    constants = {n.value for path in SRC.rglob("*.py") for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert PROBLEM_CODES - seen - constants <= {"text"}, PROBLEM_CODES - seen - constants
    assert len(seen) > 30


def test_problem_keeps_the_contract_format_and_renders_in_chinese():
    r = Report()
    r.problem("stock.csv", 4, "quantity", "out_of_bounds", "-5", bounds=">= 0")
    r.warning("stock.csv", 2, "expires", "lot_expired", "2020-01-01", lot="L1", at="2020-02-10 08:00")
    err, warn = r.problems
    assert str(err) == "stock.csv:4: quantity: must be >= 0 (got -5)"
    assert (err.code, err.params) == ("out_of_bounds", {"bounds": ">= 0"})
    assert str(warn) == ("stock.csv:2: expires: warning: lot L1 has expired at 2020-02-10 08:00 "
                         "and will not be allocated (got 2020-01-01)")
    zh = warn.render("zh")
    assert zh.startswith("stock.csv:2: expires: 警告： 批次 L1 已于 2020-02-10 08:00 过期") and "原值 2020-01-01" in zh
    assert "code" in r.to_frame().columns


def test_free_text_problems_get_a_code_when_the_text_is_known():
    r = Report()
    r.add("roads.csv", 3, "length_m", "required value is empty", "")
    r.add("roads.csv", 4, "length_m", "something new", "x")
    assert [p.code for p in r.problems] == ["value_required", "text"]
    assert r.problems[1].render("zh") == "roads.csv:4: length_m: something new (原值 x)"


def test_unknown_problem_code_is_a_programming_error():
    with pytest.raises(AssertionError):
        Report().problem("x.csv", 1, None, "no_such_code")


def test_report_and_problem_are_importable_from_validate():
    from allocator import validate

    assert validate.Report is Report and validate.Problem is Problem


# --------------------------------------------------------------------------- errors


def test_every_error_code_has_a_template_in_both_languages():
    for code in errors.ERROR_CODES:
        for lang in LANGS:
            assert i18n.has(code, lang), (code, lang)
        assert i18n.fields(i18n.catalogue("en")[code]) == i18n.fields(i18n.catalogue("zh")[code]), code


def test_every_error_code_given_at_a_raise_site_is_registered_with_its_parameters():
    n = 0
    for where, call in _calls(lambda c: any(k.arg == "code" for k in c.keywords)):
        kw = {k.arg: k.value for k in call.keywords}
        if not isinstance(kw["code"], ast.Constant) or not str(kw["code"].value).startswith("error."):
            continue
        code = kw["code"].value
        n += 1
        assert code in errors.ERROR_CODES, f"{where}:{call.lineno}: unregistered error code {code!r}"
        need = i18n.fields(i18n.catalogue("en")[code])
        assert need <= set(kw) - {"code"} | {"message"}, f"{where}:{call.lineno}: {code} needs {need}"
    assert n >= 5


def test_store_errors_are_typed_and_carry_codes():
    from allocator.store import add_user, authenticate, get_round, memory_store, transaction

    eng = memory_store()
    with transaction(eng) as s:
        add_user(s, "li", "pw", ["approver"])
    with transaction(eng) as s:
        with pytest.raises(errors.NotFoundError) as nf:
            get_round(s, 99)
        assert (nf.value.code, nf.value.params["round"]) == ("error.store.no_round", 99)
        assert i18n.t(nf.value.code, "zh", **nf.value.params) == "没有第 99 轮分配"
        with pytest.raises(errors.PermissionDeniedError) as pd_:
            authenticate(s, "li", "wrong")
        assert pd_.value.code == "error.store.login"
        with pytest.raises(errors.ConflictError):
            add_user(s, "li", "pw2")
        with pytest.raises(errors.InvalidRequestError):
            add_user(s, "", "pw2")
    for cls in (errors.ConflictError, errors.StaleDraftError, errors.PermissionDeniedError,
                errors.NotFoundError, errors.InvalidRequestError):
        assert issubclass(cls, errors.StoreError) and cls.code != errors.StoreError.code


def _caught_inside(tree: ast.AST) -> set[int]:
    """Line numbers of raises inside a ``try`` whose own handler catches that exception."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught: set[str] = set()
        for h in node.handlers:
            types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Raise) and sub.exc is not None:
                    exc = sub.exc.func if isinstance(sub.exc, ast.Call) else sub.exc
                    if isinstance(exc, ast.Name) and exc.id in caught:
                        out.add(sub.lineno)
    return out


def test_no_bare_value_or_key_error_is_raised_by_the_library():
    # i18n's unknown language is the catalogue's own error; a raise that its own try catches
    # at once (to turn it into a problem or a verification failure) never leaves the library.
    allowed = {"allocator/i18n.py"}
    bare = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC.parent))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = _caught_inside(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id in ("ValueError", "KeyError") and rel not in allowed \
                        and node.lineno not in inside:
                    bare.append(f"{rel}:{node.lineno}")
    assert bare == []


def test_typed_argument_errors_still_satisfy_callers_of_the_builtins():
    from allocator import schema

    with pytest.raises(KeyError, match="items has no column 'nope'") as exc:
        schema.tables()["items"].column("nope")
    assert isinstance(exc.value, errors.UnknownKeyError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.ArgumentTypeError, TypeError)
    assert str(errors.UnknownKeyError("unknown table 'x'")) == "unknown table 'x'"
