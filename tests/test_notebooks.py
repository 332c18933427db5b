"""Every analyst notebook runs top to bottom against the library (and asserts inside), and draws a plot."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IMAGE_TYPES = ("image/png", "image/svg+xml", "application/vnd.vegalite.v5+json", "application/vnd.vegalite.v4+json")


def generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_five_stories_are_there():
    assert [p.stem for p in NOTEBOOKS] == [
        "01-first-round", "02-traffic-control", "03-scarcity-and-fairness", "04-donations", "05-sweep-at-scale"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_plots(path: Path, monkeypatch: pytest.MonkeyPatch):
    # the kernel (and any Dask worker it starts) imports this checkout's allocator, installed or not
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("ALLOCATOR_NOTEBOOK_QUICK", "1")  # the 200-variant sweep shrinks for the test run
    # importing streamlit (the app's tests) sets MPLBACKEND=Agg in this process; the kernel inherits the
    # environment and would then draw nothing inline
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    # the acceptance limit is two minutes a notebook; a cell stuck longer than that fails here
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if any(t in o.get("data", {}) for t in IMAGE_TYPES)]
    assert images, f"{path.name} drew no plot"


def test_committed_notebooks_have_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: cell {cell.id} has outputs"


def test_notebooks_are_generated_from_the_script():
    nbformat = pytest.importorskip("nbformat")
    mod = generator()
    assert sorted(mod.NOTEBOOKS) == [p.stem for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        on_disk = nbformat.read(path, as_version=4)
        built = mod.build(path.stem)
        assert [(c.cell_type, c.source, c.id) for c in on_disk.cells] == \
            [(c.cell_type, c.source, c.id) for c in built.cells], f"{path.name} is stale: run scripts/make_notebooks.py"


def test_notebooks_use_only_the_public_api():
    """No private names (``allocator.x._y``) in the analysts' notebooks."""
    import re

    mod = generator()
    for name, cells in mod.NOTEBOOKS.items():
        for cell in cells:
            assert not re.search(r"\ballocator(\.\w+)*\._\w", cell.source), (name, cell.source[:80])
            assert "sweep.Base" not in cell.source and "_ids" not in cell.source, name
