"""The chainrule command: demo writes its pictures, train trains and saves, draw draws a saved model."""

import xml.etree.ElementTree as ET

import pytest

from viz.cli import main


def test_demo_prints_the_seed_numbers_and_writes_pictures(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0.60944600, 0.66384491" in out and "0.02397190" in out
    assert "= 0.209446 × 0.23802157 × 0.51998934" in out  # explain(w5)
    svg = (tmp_path / "worked_example.svg").read_text()
    ET.fromstring(svg)
    assert "0.02592286" in svg  # dE/dw5 drawn to 8 decimals
    assert (tmp_path / "worked_example.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<input" in (tmp_path / "worked_example_backprop.html").read_text()


def test_train_saves_a_model_that_draw_can_draw(tmp_path, capsys):
    model = tmp_path / "xor.json"
    assert (
        main(["train", "xor", "--hidden", "8", "--epochs", "300", "--lr", "0.05", "--save", str(model)]) == 0
    )
    out = capsys.readouterr().out
    assert "xor: 4 examples, 2 classes" in out and "train_acc" in out and model.exists()
    picture = tmp_path / "xor.svg"
    assert main(["draw", str(model), "--input", "1,0", "--out", str(picture)]) == 0
    svg = picture.read_text()
    ET.fromstring(svg)
    assert "neuron" in svg or "Σ" in svg


def test_unknown_data_set_is_refused():
    with pytest.raises(SystemExit):
        main(["train", "mnist"])
