"""CI's browser rule: with CHAINRULE_REQUIRE_BROWSER=1 (``.ci/run`` sets it), a test of the files in
BROWSER_TESTS that would skip (no chromium, no playwright, no JupyterLab) fails instead, so a green
CI always means the pages were tried in a real browser."""

import os

import pytest

REQUIRE_BROWSER = "CHAINRULE_REQUIRE_BROWSER"
BROWSER_TESTS = {"test_page_browser.py", "test_training_page.py", "test_jupyterlab.py"}


def _required() -> bool:
    return os.environ.get(REQUIRE_BROWSER, "") not in ("", "0")


def _failed(report, where: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{where} skipped ({reason}), but {REQUIRE_BROWSER}=1 requires the browser tests to run"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _required() and report.skipped and item.path.name in BROWSER_TESTS:
        _failed(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _required() and report.skipped and collector.path is not None and collector.path.name in BROWSER_TESTS:
        _failed(report, collector.nodeid)
