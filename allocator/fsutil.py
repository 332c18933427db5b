"""The one atomic writer of the product: a reader sees the old file (or folder) or the new one, never half.

- :func:`atomic_file` yields a hidden temporary path beside the target; when
  the block ends without an exception the file is flushed to disk and renamed
  over the target in one step, else it is removed and the target is untouched.
  :func:`write_bytes`, :func:`write_text` and :func:`write_csv` are its common uses.
- :func:`atomic_folder` does the same for a whole folder (a round's outputs, a
  saved scenario, the public site, a publication's version).
- :func:`atomic_link` points a symbolic link at a new target in one rename
  (the public snapshot's link to its newest version).

Both create what they write with the permissions a plain ``open`` or ``mkdir``
would give under the process's umask (not the 0600/0700 of :mod:`tempfile`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_file", "atomic_folder", "atomic_link", "umask", "write_bytes", "write_csv", "write_text"]


def umask() -> int:
    """The process's file-creation mask (what a plain ``mkdir`` or ``open`` would respect)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file exists (empty, hidden: ``.NAME.XXXX``) when the block
    starts; a writer may also remove it and create it again (SQLite's backup
    does). On an exception it is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "needs.csv"
    >>> with atomic_file(target) as tmp:
    ...     _ = tmp.write_text("site_id,item_id,quantity\\n")
    >>> target.read_text()
    'site_id,item_id,quantity\\n'
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes it 0600
        yield tmp
        _fsync(tmp)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode(encoding))


def write_csv(df: Any, path: str | Path, **to_csv: Any) -> Path:
    """Write a DataFrame as CSV atomically (``index=False`` and ``\\n`` line ends unless given)."""
    opts = {"index": False, "lineterminator": "\n", **to_csv}
    with atomic_file(path) as tmp:
        df.to_csv(tmp, **opts)
    return Path(path)


def _old_of(out: Path) -> Path:
    return out.with_name(f".{out.name}.old")


@contextmanager
def atomic_folder(out: str | Path, *, keep_others: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` as a whole.

    On an exception the temporary folder is removed and ``out`` is untouched;
    a kill leaves at most a hidden ``.NAME.*`` sibling. An existing ``out`` is
    moved aside (``.NAME.old``) and the new folder renamed into its place; a
    kill between those two renames is repaired by the next write (the old
    folder comes back first).

    Parameters
    ----------
    keep_others : bool
        Also keep the files and folders of the existing ``out`` that the block
        did not write (hard links where possible, else copies), so a folder a
        user keeps other files in loses none of them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "round"
    >>> with atomic_folder(target) as tmp:
    ...     _ = (tmp / "fill.csv").write_text("site_id\\n")
    >>> sorted(p.name for p in target.iterdir())
    ['fill.csv']
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = _old_of(out)
    if old.is_dir() and not out.exists():  # a kill between the two renames of an earlier write
        os.replace(old, out)
    if out.exists() and not out.is_dir():
        from allocator.errors import InvalidArgumentError

        raise InvalidArgumentError(f"{out} exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700: readable by the user's group as umask allows
        yield tmp
        if keep_others and out.is_dir():
            for f in out.iterdir():
                if not (tmp / f.name).exists() and not f.is_symlink():
                    if f.is_dir():
                        shutil.copytree(f, tmp / f.name, copy_function=_link_or_copy)
                    else:
                        _link_or_copy(f, tmp / f.name)
        for f in tmp.rglob("*"):
            if f.is_file() and not f.is_symlink():
                _fsync(f)
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
        _fsync_dir(out.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def atomic_link(link: str | Path, target: str | Path) -> None:
    """Make ``link`` a symbolic link to ``target`` (stored relative to the link's folder) in one rename.

    ``link`` may be absent or an existing link; a reader following it sees the
    old target or the new one, never no link.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "v1").mkdir(); (d / "v2").mkdir()
    >>> atomic_link(d / "current", d / "v1"); atomic_link(d / "current", d / "v2")
    >>> (d / "current").resolve().name
    'v2'
    """
    link = Path(os.path.abspath(link))
    rel = os.path.relpath(target, link.parent)
    tmp = link.parent / f".{link.name}.link-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(rel, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(link.parent)
