"""Debian's chromium for the browser tests, driven by Playwright, which never downloads a browser
here: it launches the system's. A test that cannot have it skips and says why; under
CHAINRULE_REQUIRE_BROWSER=1 (as CI runs) tests/conftest.py turns that skip into a failure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing(*modules: str) -> str | None:
    """Why the browser tests cannot run here (no chromium, or no Playwright or another module of
    the dev extra), or None."""
    if CHROMIUM is None:
        return "no chromium (apt-get install chromium)"
    for module in ("playwright", *modules):
        try:
            __import__(module)
        except ImportError:
            return f"no {module} (pip install -e '.[dev]')"
    return None


def launched() -> Iterator[Any]:
    """The browser, for a fixture to ``yield from``; a skip saying what is missing when it cannot."""
    why = missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Recorded:
    """A page of ``browser`` opened at ``path`` with a viewport of ``size`` (and Playwright's page
    ``options``), recording every request it makes and every console error."""

    def __init__(self, browser: Any, path: Path, size: tuple[int, int], **options: Any):
        self.url = Path(path).resolve().as_uri()
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]}, **options)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)
