"""The documentation runs: every ```python block of README.md and docs/*.md is executed as written, in
order within its page (one namespace per page), in a fresh temporary directory. Links between the
pages point at files that exist, and a figure the prose of our pages states is checked by code."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ["engine.md", "nn.md", "viz.md", "tape.md", "cli.md"]  # the pages of issue 12's reference
# Pages whose prose is held to "every figure is checked by a block on the page" (other pages: add them).
FIGURE_CHECKED = ["README.md", *REFERENCE]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
# A stated figure: a number with three or more decimals (0.02592286, 1.234), or a percentage (97.0%).
FIGURE = re.compile(r"(?<![\w.])(\d+\.\d{3,}|\d+(?:\.\d+)?%)")


def blocks(page: Path, language: str = "python") -> list[tuple[int, str]]:
    """(first line number, code) of each fenced block of ``language``, in order."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


def prose(page: Path) -> str:
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def test_the_reference_pages_exist_and_the_readme_links_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in REFERENCE:
        assert (ROOT / "docs" / name).is_file(), name
        assert f"(docs/{name})" in readme, f"README.md does not link docs/{name}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_link_to_a_file_points_at_one(page):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose(page))
    missing = [t for t in links if "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links {missing}, which do not exist"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_block_runs_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    for line, code in blocks(page):
        try:
            exec(compile(code, f"{page.name}, block at line {line}", "exec"), namespace)
        except Exception as e:
            pytest.fail(f"{page.name}, the block at line {line}: {type(e).__name__}: {e}")


@pytest.mark.parametrize("name", FIGURE_CHECKED)
def test_no_figure_in_the_prose_is_typed_by_hand(name):
    page = ROOT / name if name == "README.md" else ROOT / "docs" / name
    code = "\n".join(c for _, c in blocks(page))
    text = re.sub(r"`[^`\n]+`", "", prose(page))  # inline code is API (defaults, signatures), not a figure
    stale = [f for f in FIGURE.findall(text) if f not in code]
    assert not stale, f"{name} states {stale} in its text, but no block on the page computes or checks them"


def test_the_readme_names_no_internal_sources():
    for page in [ROOT / "README.md", *(ROOT / "docs" / n for n in REFERENCE)]:
        text = page.read_text(encoding="utf-8").lower()
        for word in ("seed article", "seed 00", "seeds/", "the seed's"):
            assert word not in text, f"{page.name} says {word!r}"
