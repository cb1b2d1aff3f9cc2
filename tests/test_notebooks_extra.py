"""The ``notebooks`` extra is enough to run the notebooks, as the README says: a fresh virtual
environment that gets only ``pip install ".[notebooks]"`` (no dev extra: no pytest, no torch)
executes notebook 05, which runs micrograd 0.1.0 beside chainrule."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

RUN_NOTEBOOK = """
import sys
from pathlib import Path

import nbclient
import nbformat

path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
nbclient.NotebookClient(
    nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
).execute()
outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
errors = [o for o in outputs if o.output_type == "error"]
text = "".join(o.get("text", "") for o in outputs)
print(f"{len(errors)} errors")
print(text)
"""


def _copy_of_the_checkout(dest: Path) -> Path:
    """The files git knows or would add (tracked, and new ones not ignored): what a clone would hold
    with this change committed, without the checkout's .venv or build files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())
    return dest


def test_the_notebooks_extra_alone_runs_notebook_05(tmp_path):
    clone = _copy_of_the_checkout(tmp_path / "chainrule")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{clone}[notebooks]"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    versions = subprocess.run(
        [python, "-c", "import importlib.metadata as m, importlib.util as u; "
         "print(m.version('micrograd'), u.find_spec('pytest') is None, u.find_spec('torch') is None)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert versions == ["0.1.0", "True", "True"]  # micrograd from the extra; nothing of the dev extra
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "MPLBACKEND": "Agg",
        "CHAINRULE_OUT": str(tmp_path / "out"),
    }
    run = subprocess.run(
        [python, "-c", RUN_NOTEBOOK, str(clone / "notebooks" / "05_micrograd_demo.ipynb")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("0 errors\n"), run.stdout[-3000:]
    lines = run.stdout.splitlines()  # the last cell: ops added micrograd's way, run on both engines
    ours = next(ln for ln in lines if ln.startswith("chainrule: 0.7071067812"))
    theirs = next(ln for ln in lines if ln.startswith("micrograd: 0.7071067812"))
    assert ours.removeprefix("chainrule: ") == theirs.removeprefix("micrograd: ")
