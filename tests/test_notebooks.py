"""Every notebook in notebooks/ runs from top to bottom without an error (executed here with
nbclient, in the notebooks/ directory, on the same Python as the tests)."""

from pathlib import Path

import nbclient  # the dev extra installs both: a missing one must fail the suite, not skip it
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CHAINRULE_OUT", str(tmp_path))  # notebooks write their files here when set
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    if path.stem == "renderer_tour":  # the dev extra has ipywidgets: the slider itself must be shown
        kinds = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
        assert "application/vnd.jupyter.widget-view+json" in kinds


TUTORIAL_NOTEBOOKS = [
    p for p in NOTEBOOKS if p.stem[:2] in {"00", "01", "02", "03", "04"} or p.stem == "engine_tour"
]


@pytest.mark.parametrize("path", TUTORIAL_NOTEBOOKS, ids=[p.stem for p in TUTORIAL_NOTEBOOKS])
def test_notebook_speaks_of_its_sources_by_name(path):
    """A reader never saw the project's internal file names: tutorials are named by title."""
    text = path.read_text(encoding="utf-8").lower()
    for word in ("seed article", "seed 00", "seeds/", "the seed's", "_4758a3bc", "000_4758"):
        assert word not in text, f"{path.name} says {word!r}"
