"""The documentation runs: every ```python block of README.md and docs/*.md is executed as written, in
order within its page (one namespace per page), in a fresh temporary directory. Links between the
pages point at files that exist, and no figure in the prose of any page is typed by hand.

The figure rule, for every page. A figure is a number the prose states as a result:
- a decimal with two or more digits after the point: 0.69, -1.93, 0.02592286 (not a version, 2.13.0);
- a percentage: 97%, 26.67%;
- a time or a size with its unit: 0.69 s, 12 ms, 3 µs, 2 min, 14 MB;
- a ratio: 2.3x, 40×;
- a count out of a total: 4/4 (the words "2 of 5" are not matched).
Each figure must either
1. appear in a ```python block of the same page (which test_every_python_block_runs_as_written runs)
   as a number (the number alone for a time, size or ratio: "0.69 s" needs 0.69 in a block; the
   whole text for a percentage or a count: "4/4" needs "4/4"), computed and printed or asserted; or
2. be a measured figure: its paragraph (or the paragraph or table right after the marker) holds the
   HTML comment `<!-- measured: COMMAND -->`, COMMAND being the exact command that produces it
   (every path it names must exist). The reader sees how to measure it again; the figure may drift
   with the machine, not with the code.
Inline code (`...`) is API (defaults, signatures), link targets are addresses: neither holds figures.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ["engine.md", "nn.md", "viz.md", "tape.md", "cli.md"]  # the pages of issue 12's reference
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = r"(?:s|ms|µs|us|ns|min|seconds?|minutes?|hours?|[kKMG]i?B|bytes)"
FIGURE = re.compile(
    r"(?<![\w.,/])(?:"
    rf"(?P<time>{_NUMBER})\s?{_UNIT}(?!\w)"  # 0.69 s, 12 ms, 14 MB
    rf"|(?P<ratio>{_NUMBER})\s?[x×](?!\w)"  # 2.3x, 40×
    rf"|(?P<whole>{_NUMBER}%|\d+/\d+(?![\w/]))"  # 97.0%, 4/4
    r"|(?P<decimal>\d+\.\d{2,})(?![\w]|\.\d)"  # 0.69, 1.93 (not a version like 2.13.0)
    r")"
)
MEASURED = re.compile(r"<!--\s*measured:\s*(.*?)\s*-->")


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


def paragraphs(page: Path) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph (or table) of the prose, fences blanked out."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.read_text(encoding="utf-8"))
    found, start = [], 0
    for m in re.finditer(r"\n\s*\n|\Z", text):
        if text[start : m.start()].strip():
            found.append((text.count("\n", 0, start) + 1, text[start : m.start()]))
        start = m.end()
    return found


def unchecked_figures(page: Path) -> list[str]:
    """'line N: figure' for each figure of the prose that no block has and no marker covers."""
    code = "\n".join(c for _, c in blocks(page))
    stale, measured_before = [], False
    for line, text in paragraphs(page):
        measured = measured_before or bool(MEASURED.search(text))
        measured_before = bool(MEASURED.search(text))
        blank = re.compile(r"`[^`\n]+`|\]\([^)]*\)|<!--.*?-->|https?://\S+", re.S)
        bare = blank.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)  # offsets kept
        for m in FIGURE.finditer(bare):
            number = m.group("time") or m.group("ratio") or m.group("whole") or m.group("decimal")
            in_code = re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", code)
            if not (in_code or measured):
                stale.append(f"line {line + text.count(chr(10), 0, m.start())}: {m.group(0)!r}")
    return stale


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_figure_in_the_prose_is_typed_by_hand(page):
    stale = unchecked_figures(page)
    assert not stale, (
        f"{page.name} states figures no block on the page computes or checks, and no "
        f"<!-- measured: COMMAND --> marks: {stale}"
    )


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_a_measured_figure_names_a_command_that_exists(page):
    for command in MEASURED.findall(page.read_text(encoding="utf-8")):
        assert command, f"{page.name}: a <!-- measured: --> marker without its command"
        paths = [w for w in command.split() if "/" in w or w.endswith((".py", ".ipynb"))]
        missing = [w for w in paths if not (ROOT / w).exists() and not w.startswith((".venv/", "-"))]
        assert not missing, f"{page.name}: the measured figure's command {command!r} names {missing}"


def test_the_figure_check_catches_the_drift_issue_12_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Slopes 1.93 vs -0.91 (was -1.25); 0.69 s vs 1.0 ms;\n"
        "`MLP(2, [4, 1])` gets 4/4 for seeds 0-4, 2.3x faster,\n"
        "97.0% accurate, a 14 MB page. Python `3.11`, torch 2.13.0 and [a link](x/0.25.md) are not.\n\n"
        "```python\nassert round(0.9123, 2) == 0.91\n```\n\n"
        "<!-- measured: python3 tests/benchmarks/run.py --quick -->\nIt took 12 ms.\n"
    )
    found = [s.split(": ", 1)[1] for s in unchecked_figures(page)]
    assert found == ["'1.93'", "'1.25'", "'0.69 s'", "'1.0 ms'", "'4/4'", "'2.3x'", "'97.0%'", "'14 MB'"]


def test_the_readme_names_no_internal_sources():
    for page in [ROOT / "README.md", *(ROOT / "docs" / n for n in REFERENCE)]:
        text = page.read_text(encoding="utf-8").lower()
        for word in ("seed article", "seed 00", "seeds/", "the seed's"):
            assert word not in text, f"{page.name} says {word!r}"
