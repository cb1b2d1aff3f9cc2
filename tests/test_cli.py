"""The chainrule command: demo writes its pictures, train trains and saves, draw draws a saved model;
every bad input ends in one error line (never a traceback), and Ctrl-C leaves no file behind."""

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import warnings
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest

import autograd
import nn
import viz.cli.commands
from nn.worked_example import worked_example
from viz.cli import DATASETS, main
from viz.cli.parser import build_parser, command_parser
from viz.dot import fmt


def run(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The command as a user runs it: a new process, its own stdout and stderr."""
    full_env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_TRACEBACK"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "viz.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_error(proc: subprocess.CompletedProcess, status: int, *words: str) -> str:
    """Exit ``status``; stderr is the error line, after at most one usage line; no traceback."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert 1 <= len(lines) <= 2, proc.stderr
    if len(lines) == 2:
        assert lines[0].startswith("usage: chainrule")
    assert lines[-1].startswith("chainrule: error: ")
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.json"
    nn.save(nn.MLP(2, [3, 1], seed=0), path)
    return path


def test_demo_prints_the_worked_example_and_writes_pictures(tmp_path, capsys):
    ex = worked_example()
    assert main(["demo", "--out", str(tmp_path / "pictures")]) == 0
    out = capsys.readouterr().out
    assert f"{ex['o'][0].data:.8f}, {ex['o'][1].data:.8f}" == "0.60944600, 0.66384491"
    assert "0.60944600, 0.66384491" in out and "0.02397190" in out
    assert "= 0.209446 × 0.23802157 × 0.51998934" in out  # explain(w2[0][0])
    assert "The chain rule behind dE_total/dw2[0][0]:" in out  # the drawing's names, not "w5"
    assert "w5" not in out
    assert "seed" not in out.lower()
    svg = (tmp_path / "pictures" / "worked_example.svg").read_text()
    ET.fromstring(svg)
    w5 = ex["w2"][0][0]
    assert fmt(w5.grad) == "0.02592" and "0.02592" in svg  # dE/dw5, drawn as the README figure draws it
    assert 'class="graph"' in svg and "rotate(0" in svg  # one drawing, top to bottom like the figure
    assert (tmp_path / "pictures" / "worked_example.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<input" in (tmp_path / "pictures" / "worked_example_backprop.html").read_text()
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == [
        "worked_example.png",
        "worked_example.svg",
        "worked_example_backprop.html",
    ]  # no temporary file left beside them


def test_train_saves_a_model_that_draw_can_draw(tmp_path, capsys):
    model = tmp_path / "xor.json"
    args = ["train", "xor", "--hidden", "8", "--epochs", "300", "--lr", "0.05", "--save", str(model)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "xor: 4 examples, 2 classes" in out and "train_acc" in out and model.exists()
    picture = tmp_path / "xor.svg"
    assert main(["draw", str(model), "--input", "1,0", "--out", str(picture)]) == 0
    svg = picture.read_text()
    ET.fromstring(svg)
    expected = nn.load(model)([1.0, 0.0])
    expected.backward()
    assert ">output<" in svg  # the root the command labels
    assert fmt(expected.data) in svg  # the model's output on (1, 0), as the drawing writes numbers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xor.json", "xor.svg"]


USAGE_ERRORS = [
    (["train", "mnist"], "invalid choice"),
    (["train", "moons", "--epochs", "-5"], "--epochs"),
    (["train", "moons", "--epochs", "0"], "--epochs"),
    (["train", "xor", "--epochs", "99999999999999999999"], "at most 1,000,000"),
    (["train", "moons", "--epochs", " 4"], "--epochs"),
    (["train", "moons", "--epochs", "1_0"], "--epochs"),
    (["train", "moons", "--hidden", " 4"], "--hidden"),
    (["train", "moons", "--hidden", "4, 4"], "--hidden"),
    (["train", "moons", "--lr", " 0.1"], "--lr"),
    (["train", "moons", "--lr", "+0.1"], "--lr"),
    (["train", "moons", "--seed", "+1"], "--seed"),
    (["train", "xor", "--save", ""], "empty"),
    (["draw", "MODEL", "--out", ""], "empty"),
    (["draw", ""], "empty"),
    (["demo", "--out", ""], "empty"),
    (["train", "moons", "--lr", "-1"], "--lr"),
    (["train", "moons", "--lr", "nan"], "--lr"),
    (["train", "moons", "--lr", "inf"], "--lr"),
    (["train", "moons", "--hidden", "0"], "--hidden"),
    (["train", "moons", "--hidden", "16,x"], "--hidden"),
    (["train", "moons", "--hidden", ",,,"], "--hidden"),
    (["train", "moons", "--hidden", "16,"], "--hidden"),
    (["train", "moons", "--hidden", "100000,100000"], "parameters"),
    (["train", "moons", "--batch-size", "0"], "--batch-size"),
    (["train", "moons", "--seed", "-5"], "--seed"),
    (["train", "moons", "--save", "m.txt"], "--save"),
    (["draw", "MODEL", "--out", "m.jpg"], "m.jpg"),
    (["draw", "MODEL", "--input", "a,b"], "--input"),
    (["draw", "MODEL", "--input", "1,2,3"], "--input"),
    (["draw", "MODEL", "--input", "1, 2"], "--input"),
    ([], "required"),
]


@pytest.mark.parametrize(
    ("args", "word"), USAGE_ERRORS, ids=[" ".join(a) or "nothing" for a, _ in USAGE_ERRORS]
)
def test_a_usage_error_is_a_usage_line_and_one_error_line(args, word, tmp_path, model_file):
    args = [str(model_file) if a == "MODEL" else a for a in args]
    assert_one_error(run(*args, cwd=tmp_path), 2, word)


def bad_model_files(directory: Path, good: Path) -> dict[str, Path]:
    data = json.loads(good.read_text())
    files = {
        "corrupt": "{not json at all",
        "truncated": good.read_text()[: len(good.read_text()) // 2],
        "empty": "",
        "wrong-version": json.dumps({**data, "version": 99}),
        "wrong-shape": json.dumps({**data, "weights": data["weights"][:1]}),
        "not-a-model": json.dumps([1, 2, 3]),
    }
    for name, text in files.items():
        (directory / f"{name}.json").write_text(text)
    (directory / "a-directory.json").mkdir()
    return {name: directory / f"{name}.json" for name in [*files, "a-directory"]}


def test_draw_of_a_bad_model_file_is_one_error_line(tmp_path, model_file):
    for name, path in bad_model_files(tmp_path, model_file).items():
        line = assert_one_error(run("draw", str(path), cwd=tmp_path), 1, path.name)
        assert len(line) < 300, (name, line)
    assert_one_error(run("draw", str(tmp_path / "missing.json"), cwd=tmp_path), 1, "no such file")
    assert not (tmp_path / "model.svg").exists()


def test_output_paths_are_checked_the_same_way_by_every_command(tmp_path, model_file):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    missing = tmp_path / "missing" / "deeper"
    cases = [
        (["train", "xor", "--save", str(missing / "m.json")], "does not exist"),
        (["train", "xor", "--save", str(a_file / "m.json")], "not a directory"),
        (["train", "xor", "--save", str(tmp_path)], "is a directory"),
        (["draw", str(model_file), "--out", str(missing / "m.svg")], "does not exist"),
        (["draw", str(model_file), "--out", str(a_file / "m.svg")], "not a directory"),
        (["demo", "--out", str(missing)], "does not exist"),
        (["demo", "--out", str(a_file)], "is a file"),
    ]
    for args, words in cases:
        assert_one_error(run(*args, cwd=tmp_path), 1, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing created


def test_a_renderer_that_is_not_there_is_one_error_line(tmp_path, model_file):
    env = {"CHAINRULE_RENDERER": "dot", "PATH": str(tmp_path)}  # no `dot` on this PATH
    assert_one_error(run("draw", str(model_file), cwd=tmp_path, env=env), 1, "dot")
    assert_one_error(run("demo", "--out", "pics", cwd=tmp_path, env=env), 1, "dot")
    env = {"CHAINRULE_RENDERER": "nonsense"}
    assert_one_error(run("draw", str(model_file), cwd=tmp_path, env=env), 1, "nonsense")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bad_save_path_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(viz.cli.commands.nn, "fit", lambda *a, **k: pytest.fail("trained"))
    monkeypatch.setattr(viz.cli.commands, "_dataset", lambda *a: pytest.fail("loaded the data"))
    status = main(["train", "digits", "--epochs", "100000", "--save", str(tmp_path / "no" / "m.json")])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""  # not one line of training was printed
    assert captured.err.startswith("chainrule: error: --save:")


@pytest.mark.parametrize(
    "args",
    [
        ["moons", "--epochs", "5"],  # fails inside fit
        ["moons", "--epochs", "3", "--engine", "eager"],
        ["xor", "--epochs", "1", "--engine", "eager"],  # weights ~1e299: fails evaluating the test split
        ["xor", "--epochs", "1", "--engine", "tape"],
        ["xor", "--epochs", "1"],
    ],
    ids=" ".join,
)
def test_training_that_diverges_is_one_error_line_whatever_the_engine(args, tmp_path):
    proc = run("train", *args, "--lr", "1e300", "--save", "m.json", cwd=tmp_path)
    assert_one_error(proc, 1, "training diverged", "try a smaller --lr (this run: 1e+300)")
    assert list(tmp_path.iterdir()) == []  # nothing saved


def test_a_library_error_while_evaluating_is_one_line_naming_the_step(monkeypatch, capsys):
    def evaluate(*args, **kwargs):
        raise ValueError("X has 3 features\nbut the model takes 2")

    monkeypatch.setattr(viz.cli.commands.nn, "evaluate", evaluate)
    assert main(["train", "xor", "--epochs", "1"]) == 1
    assert capsys.readouterr().err == (
        "chainrule: error: evaluating the trained model on the 4 test examples failed "
        "(ValueError: X has 3 features but the model takes 2)\n"
    )


def test_traceback_on_request(tmp_path):
    proc = run("draw", "missing.json", cwd=tmp_path, env={"CHAINRULE_TRACEBACK": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_ctrl_c_ends_with_one_line_status_130_and_no_file(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "viz.cli", "train", "digits", "--epochs", "100000", "--save", "m.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even if our parent ignores it
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("digits: 1797 examples")
        proc.send_signal(signal.SIGINT)  # wherever it lands from here on (in fit or before), the same end
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err == "chainrule: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_help_gives_every_default_and_examples(capsys):
    parser = build_parser(DATASETS)
    for command in ("demo", "train", "draw"):
        sub = command_parser(parser, command)
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and "default" in action.help, (command, action.option_strings)
        assert sub.epilog and sub.epilog.startswith("examples:\n  chainrule " + command)


def test_version(tmp_path):
    proc = run("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"chainrule {metadata.version('chainrule')}"


def test_the_benchmarks_are_a_script_of_the_repository_not_a_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench"])
    assert e.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
    script = Path(__file__).parent / "benchmarks" / "run.py"
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--quick" in proc.stdout


def test_progress_is_a_bar_on_a_terminal_and_nothing_in_a_pipe(tmp_path):
    piped = run("train", "xor", "--epochs", "30", cwd=tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""
    assert "epoch   30" in piped.stdout
    main_end, terminal = pty.openpty()  # stderr on a terminal, as a user at a shell has it
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns wide
    proc = subprocess.run(
        [sys.executable, "-m", "viz.cli", "train", "xor", "--epochs", "30"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=terminal,
        timeout=60,
    )
    os.close(terminal)
    shown = b""
    while select.select([main_end], [], [], 0.1)[0]:
        try:
            chunk = os.read(main_end, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main_end)
    assert proc.returncode == 0
    assert b"30/30" in shown and b"epoch" in shown  # tqdm's bar: "fit: 100%|...| 30/30 [...epoch/s]"


def test_a_warning_is_one_line(monkeypatch, capsys):
    real_fit = nn.fit

    def fit(*args, **kwargs):
        warnings.warn("the batch tape cannot run this model:\nit reads .data", UserWarning, stacklevel=1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(viz.cli.commands.nn, "fit", fit)
    assert main(["train", "xor", "--epochs", "2"]) == 0
    assert (
        capsys.readouterr().err
        == "chainrule: warning: the batch tape cannot run this model: it reads .data\n"
    )


def test_draw_collapses_a_big_model_and_says_so_unless_asked_for_every_node(tmp_path):
    from viz import render
    from viz.dot import count_boxes

    nn.save(nn.MLP(64, [32, 10], seed=0), tmp_path / "big.json")
    proc = run("draw", "big.json", "--out", "small.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    model = nn.load(tmp_path / "big.json")
    root = autograd.sum(model([0.5] * 64))  # as the command sums the outputs
    root.label = "Σ outputs"
    root.backward()
    full, small = count_boxes(root, False), count_boxes(root, True)
    assert proc.stderr == (
        f"chainrule: drawing one box per neuron: every node would be {full} boxes, over 300 "
        "(--full draws them all)\n"
    )
    assert ET.fromstring((tmp_path / "small.svg").read_text()).tag.endswith("svg")
    collapsed = render(root, tmp_path / "collapsed.svg", collapsed=True).read_text()
    assert (tmp_path / "small.svg").read_text().count('class="node"') == collapsed.count('class="node"')
    assert small < 300 < full
    proc = run("draw", "big.json", "--full", "--out", "full.svg", cwd=tmp_path)  # too big to lay out
    line = assert_one_error(proc, 1, f"{full} nodes, over the 3000", "without --full")
    assert "collapsed=True" not in line and not (tmp_path / "full.svg").exists()
    nn.save(nn.MLP(2, [3, 1], seed=0), tmp_path / "tiny.json")  # under 300: every node, nothing said
    proc = run("draw", "tiny.json", "--out", "tiny.svg", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    tiny = nn.load(tmp_path / "tiny.json")([0.5, 0.5])
    tiny.label = "output"
    tiny.backward()
    every = render(tiny, tmp_path / "every.svg").read_text()
    assert (tmp_path / "tiny.svg").read_text() == every
    assert_one_error(run("draw", "tiny.json", "--full", "--collapsed", cwd=tmp_path), 2, "not allowed")


def test_train_watch_writes_the_training_page_from_a_real_process(tmp_path):
    done = run(
        "train", "xor", "--hidden", "3", "--epochs", "5", "--lr", "0.1", "--watch", "xor.html", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "xor.html").read_text(encoding="utf-8")
    assert "wrote xor.html (" in done.stdout and "epochs 0 to 5" in done.stdout
    assert '<span id="counter">' in page and "xor: watch MLP(2 -&gt; 3 relu -&gt; 1) learn" in page
    bad = run("train", "xor", "--watch", "xor.svg", cwd=tmp_path)
    assert bad.returncode == 2 and "--watch: cannot tell the format of 'xor.svg'" in bad.stderr
