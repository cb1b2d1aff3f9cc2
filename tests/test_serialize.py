"""save / load: exact round trips, a clear error for every kind of bad file, and an atomic save
that leaves the old file byte for byte when it fails."""

import json
import math
import os

import pytest

import nn.serialize
from nn import MLP, Layer, ModelFileError, Neuron, load, save


def same_model(a, b):
    assert type(a) is type(b) and repr(a) == repr(b)
    assert a.state_dict() == b.state_dict()  # float equality: bit for bit


@pytest.mark.parametrize(
    "model",
    [
        MLP(2, [16, 16, 1], seed=0),
        MLP(3, [4, 3], activation="tanh", output_activation="softmax", init="xavier", seed=1),
        MLP(
            2,
            [2, 2],
            activation="sigmoid",
            output_activation="sigmoid",
            bias=False,
            weights=[[[0.3, 0.25], [0.4, 0.35]], [[0.45, 0.4], [0.7, 0.6]]],
        ),
        Layer(3, 2, activation="sigmoid", seed=2),
        Neuron(4, activation="linear", seed=3),
    ],
)
def test_round_trip_is_exact(tmp_path, model):
    for p in model.parameters():  # awkward floats too
        p.data = p.data / 3 + 1e-17 if p.data else 5e-324
    path = save(model, tmp_path / "model.json")
    loaded = load(path)
    same_model(model, loaded)
    x = [0.1 * (i + 1) for i in range(model.nin)]
    out, out2 = model(x), loaded(x)
    assert [v.data for v in (out if isinstance(out, list) else [out])] == [
        v.data for v in (out2 if isinstance(out2, list) else [out2])
    ]


def test_the_file_is_plain_readable_json(tmp_path):
    model = MLP(2, [2, 1], weights=[[[1.0, 2.0, 0.5], [3.0, 4.0, -0.5]], [[1.0, -1.0, 0.25]]])
    data = json.loads(save(model, tmp_path / "m.json").read_text())
    assert data == {
        "format": "chainrule-model",
        "version": 1,
        "architecture": {
            "type": "MLP",
            "nin": 2,
            "sizes": [2, 1],
            "activation": "relu",
            "output_activation": "linear",
            "bias": True,
        },
        "weights": [[[1.0, 2.0, 0.5], [3.0, 4.0, -0.5]], [[1.0, -1.0, 0.25]]],
    }


def good(tmp_path):
    path = save(MLP(2, [3, 1], seed=0), tmp_path / "good.json")
    return path, json.loads(path.read_text())


def write(tmp_path, data):
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_truncated_file(tmp_path):
    path, _ = good(tmp_path)
    text = path.read_text()
    with pytest.raises(ModelFileError, match=r"not valid JSON \(truncated or corrupt\?\)"):
        load(write(tmp_path, text[: len(text) // 2]))


def test_empty_file(tmp_path):
    with pytest.raises(ModelFileError, match=r"not valid JSON \(the file is empty\)"):
        load(write(tmp_path, ""))


def test_corrupt_files(tmp_path):
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load(write(tmp_path, "{'format': nope}"))
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load(binary)
    with pytest.raises(ModelFileError, match="not a chainrule model file"):
        load(write(tmp_path, "[1, 2, 3]"))
    with pytest.raises(ModelFileError, match="not a chainrule model file"):
        load(write(tmp_path, {"format": "keras", "version": 1}))


def test_wrong_version(tmp_path):
    _, data = good(tmp_path)
    data["version"] = 2
    with pytest.raises(ModelFileError, match="format version 2; this chainrule reads version 1"):
        load(write(tmp_path, data))


@pytest.mark.parametrize("key", ["version", "architecture", "weights"])
def test_missing_keys(tmp_path, key):
    _, data = good(tmp_path)
    del data[key]
    with pytest.raises(ModelFileError, match=f"missing key '{key}'"):
        load(write(tmp_path, data))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["weights"].pop(), "weights hold 1 layers; the architecture has 2 layers"),
        (lambda d: d["weights"][0].pop(), "layer 0 holds 2 neurons; the architecture says 3"),
        (
            lambda d: d["weights"][1][0].pop(),
            r"layer 1 neuron 0 holds 3 numbers; the architecture says 4 \(its weights, then its bias\)",
        ),
        (
            lambda d: d["weights"][0][2].append(1.0),
            "layer 0 neuron 2 holds 4 numbers; the architecture says 3",
        ),
        (
            lambda d: d["weights"][0].__setitem__(1, 0.5),
            "layer 0 neuron 1 holds float; the architecture says 3",
        ),
        (lambda d: d["weights"].__setitem__(1, {"w": 1}), "layer 1 holds dict; the architecture says 1"),
        (lambda d: d.__setitem__("weights", "abc"), "weights hold str; the architecture has 2 layers"),
        (
            lambda d: d["weights"][0][1].__setitem__(2, "0.5"),
            "layer 0 neuron 1 entry 2 is '0.5', not a number",
        ),
        (lambda d: d["weights"][0][1].__setitem__(0, None), "layer 0 neuron 1 entry 0 is None, not a number"),
        (lambda d: d["weights"][0][1].__setitem__(0, True), "entry 0 is True, not a number"),
        (
            lambda d: d["architecture"].__setitem__("sizes", [3, 0]),
            r"bad architecture.*sizes\[1\] must be a positive int",
        ),
        (lambda d: d["architecture"].__setitem__("type", "CNN"), "architecture must name a type among"),
        (lambda d: d["architecture"].__setitem__("dropout", 0.5), "bad architecture.*dropout"),
        (lambda d: d["architecture"].pop("nin"), "bad architecture.*nin"),
    ],
)
def test_wrong_shape_or_content(tmp_path, change, message):
    _, data = good(tmp_path)
    change(data)
    with pytest.raises(ModelFileError, match=message):
        load(write(tmp_path, data))


def test_non_finite_numbers_in_the_file(tmp_path):
    path, _ = good(tmp_path)
    text = path.read_text().replace("0.0", "NaN", 1)
    with pytest.raises(ModelFileError, match="holds NaN, not a finite number"):
        load(write(tmp_path, text))


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.json")


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path, _ = good(tmp_path)
    before = path.read_bytes()
    model = MLP(2, [3, 1], seed=5)
    model.parameters()[3].data = math.inf  # a weight JSON cannot hold
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        save(model, path)
    assert path.read_bytes() == before

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nn.serialize.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        save(MLP(2, [3, 1], seed=6), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.json"]  # no temporary file left behind


def test_a_crash_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    path, _ = good(tmp_path)
    before = path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(nn.serialize.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        save(MLP(2, [3, 1], seed=6), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.json"]


def test_save_overwrites_and_keeps_normal_permissions(tmp_path):
    path = save(MLP(2, [1], seed=0), tmp_path / "m.json")
    save(MLP(2, [1], seed=1), path)
    same_model(load(path), MLP(2, [1], seed=1))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_only_our_module_types_can_be_saved(tmp_path):
    from nn import Module

    with pytest.raises(TypeError, match="save\\(\\) handles MLP, Layer and Neuron, not Module"):
        save(Module(), tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
