"""The one atomic writer: files, folders and links are replaced whole or not at all."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from allocator import allocate, examples, fsutil
from allocator.errors import InvalidArgumentError


def _siblings(d):
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def test_atomic_file_replaces_or_leaves_the_old_file(tmp_path):
    target = tmp_path / "needs.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with fsutil.atomic_file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed in the middle")
    assert target.read_text() == "old\n"
    assert _siblings(tmp_path) == []
    fsutil.write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert _siblings(tmp_path) == []


def test_atomic_file_gets_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        p = fsutil.write_bytes(tmp_path / "sub" / "a.bin", b"x")
    finally:
        os.umask(old)
    assert p.read_bytes() == b"x"
    assert p.stat().st_mode & 0o777 == 0o644


def test_write_csv_writes_plain_lines(tmp_path):
    p = fsutil.write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "a.csv")
    assert p.read_bytes() == b"a\n1\n2\n"


def test_atomic_folder_failure_leaves_the_old_folder(tmp_path):
    out = tmp_path / "round"
    out.mkdir()
    (out / "fill.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with fsutil.atomic_folder(out) as tmp:
            (tmp / "fill.csv").write_text("new")
            raise RuntimeError("failure in the middle")
    assert [p.name for p in out.iterdir()] == ["fill.csv"]
    assert (out / "fill.csv").read_text() == "old"
    assert _siblings(tmp_path) == []


def test_atomic_folder_keeps_other_files_only_when_asked(tmp_path):
    out = tmp_path / "round"
    out.mkdir()
    (out / "fill.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    (out / "maps").mkdir()
    (out / "maps" / "a.png").write_bytes(b"png")
    with fsutil.atomic_folder(out, keep_others=True) as tmp:
        (tmp / "fill.csv").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["fill.csv", "maps", "notes.txt"]
    assert (out / "fill.csv").read_text() == "new"
    assert (out / "notes.txt").read_text() == "mine" and (out / "maps" / "a.png").read_bytes() == b"png"
    with fsutil.atomic_folder(out) as tmp:
        (tmp / "fill.csv").write_text("newer")
    assert [p.name for p in out.iterdir()] == ["fill.csv"]
    assert _siblings(tmp_path) == []


def test_atomic_folder_repairs_a_kill_between_its_two_renames(tmp_path):
    out = tmp_path / "round"
    old = tmp_path / ".round.old"  # what a kill after moving the old folder aside leaves
    old.mkdir()
    (old / "notes.txt").write_text("mine")
    with fsutil.atomic_folder(out, keep_others=True) as tmp:
        (tmp / "fill.csv").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["fill.csv", "notes.txt"]
    assert _siblings(tmp_path) == []


def test_atomic_folder_refuses_a_file(tmp_path):
    (tmp_path / "round").write_text("a file")
    with pytest.raises(InvalidArgumentError, match="not a folder"):
        with fsutil.atomic_folder(tmp_path / "round"):
            pass
    assert (tmp_path / "round").read_text() == "a file"


def test_atomic_link_swaps_the_target(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    link = tmp_path / "public"
    fsutil.atomic_link(link, tmp_path / "v1")
    assert link.is_symlink() and os.readlink(link) == "v1"
    fsutil.atomic_link(link, tmp_path / "v2")
    assert os.readlink(link) == "v2"
    assert _siblings(tmp_path) == []


def test_round_write_is_atomic_when_the_folder_exists(tmp_path, monkeypatch):
    """A failure in the middle of writing a round into an existing folder leaves the old round intact."""
    out = tmp_path / "out"
    first = allocate(examples.two_hospitals(supply=2000))
    first.write(out)
    (out / "notes.txt").write_text("the officer's notes")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = allocate(examples.two_hospitals(supply=300))
    assert not second.fill.equals(first.fill)  # a different round, so a half-written folder would show

    real = pd.DataFrame.to_csv
    calls = []

    def failing(self, path=None, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError, match="disk full"):
        second.write(out)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _siblings(tmp_path) == []

    second.write(out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after["notes.txt"] == b"the officer's notes"  # not the round's: kept
    assert after["fill.csv"] != before["fill.csv"]
    assert pd.read_csv(out / "fill.csv").filled.sum() == second.fill.filled.sum()
