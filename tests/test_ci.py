"""What CI relies on: with CHAINRULE_REQUIRE_BROWSER=1 a browser test that would skip fails instead
(tests/conftest.py), and .ci/run refuses to go on without /usr/bin/chromium."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SKIPPING = {
    "mark": "import pytest\n\n@pytest.mark.skipif(True, reason='no chromium')\ndef test_page():\n    pass\n",
    "module": "import pytest\n\npytest.importorskip('no_such_driver')\n\ndef test_page():\n    pass\n",
    "call": "import pytest\n\ndef test_page():\n    pytest.skip('no chromium')\n",
}


def pytest_in(directory: Path, require: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_REQUIRE_BROWSER"}
    if require is not None:
        env["CHAINRULE_REQUIRE_BROWSER"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("how", SKIPPING)
def test_a_skipped_browser_test_fails_when_the_browser_is_required(how, tmp_path):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_page_browser.py").write_text(SKIPPING[how])
    (tmp_path / "test_other.py").write_text(SKIPPING["call"] + "\n\ndef test_ok():\n    pass\n")  # may skip
    assert pytest_in(tmp_path, None).returncode == 0  # a user without chromium: skipped
    assert pytest_in(tmp_path, "0").returncode == 0
    proc = pytest_in(tmp_path, "1")
    assert proc.returncode in (1, 2), proc.stdout  # tests failed (1) or collection failed (2)
    assert re.search(r"\b1 (failed|error)\b", proc.stdout), proc.stdout  # a module skip stops collection
    assert "test_page_browser.py" in proc.stdout and not re.search(r"(FAILED|ERROR) test_other", proc.stdout)
    assert "CHAINRULE_REQUIRE_BROWSER=1 requires the browser tests to run" in proc.stdout


def test_ci_fails_at_once_without_chromium(tmp_path):
    script = (ROOT / ".ci" / "run").read_text()
    assert "export CHAINRULE_REQUIRE_BROWSER=1" in script
    assert script.count("CHROMIUM=/usr/bin/chromium\n") == 1
    (tmp_path / ".ci").mkdir()  # a copy whose chromium is missing, on a PATH without apt-get
    (tmp_path / ".ci" / "run").write_text(script.replace("=/usr/bin/chromium", f"={tmp_path}/chromium"))
    (tmp_path / "bin").mkdir()
    for tool in ("bash", "dirname", "date", "awk", "id"):
        (tmp_path / "bin" / tool).symlink_to(shutil.which(tool))
    proc = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")],
        env={"PATH": str(tmp_path / "bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f".ci/run: {tmp_path}/chromium is required for the browser tests and apt-get is not available "
        "here to install it; install Debian's chromium\n"
    )
    assert "README's test command" not in proc.stdout  # stopped before the tests
