"""save / load: exact round trips, a clear error for every kind of bad file, and an atomic save
that leaves the old file byte for byte when it fails."""

import json
import math
import os
import stat

import pytest

import nn
import nn.layers
import nn.serialize
from nn import MLP, Layer, ModelFileError, Neuron, load, save
from nn.worked_example import worked_example_mlp


def same_model(a, b):
    assert type(a) is type(b) and repr(a) == repr(b)
    assert a.state_dict() == b.state_dict()  # float equality: bit for bit


@pytest.mark.parametrize(
    "model",
    [
        MLP(2, [16, 16, 1], seed=0),
        MLP(3, [4, 3], activation="tanh", output_activation="softmax", init="xavier", seed=1),
        worked_example_mlp(),
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
        (lambda d: d["weights"].pop(), "weights hold 1 layer; the architecture has 2 layers"),
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


# --- limits: the architecture is checked against the limits and the weights before anything is built


@pytest.fixture
def nothing_built(monkeypatch):
    """Fail the test if load draws initial weights or constructs even one Neuron."""

    def built(*args, **kwargs):
        raise AssertionError("load drew weights or built a Neuron before checking the file")

    monkeypatch.setattr(Neuron, "__init__", built)
    monkeypatch.setattr(nn.layers, "initial_row", built)


def model_file(tmp_path, architecture, weights):
    data = {"format": "chainrule-model", "version": 1, "architecture": architecture, "weights": weights}
    return write(tmp_path, data)


@pytest.mark.usefixtures("nothing_built")
@pytest.mark.parametrize(
    "architecture, weights, message",
    [
        # 192 bytes declaring 10**10 parameters: refused from the architecture alone
        (
            {"type": "MLP", "nin": 100000, "sizes": [100000]},
            [[[0.0]]],
            "the architecture has 10,000,100,000 parameters, over the limit of 1,000,000",
        ),
        ({"type": "MLP", "nin": 1000, "sizes": [1000, 1000]}, [], "2,002,000 parameters, over the limit"),
        (
            {"type": "Layer", "nin": 100001, "nout": 1},
            [[[0.0]]],
            "layer 0 is 100001 -> 1, over the limit of 100,000",
        ),
        (
            {"type": "MLP", "nin": 1, "sizes": [1] * 1001},
            [],
            "sizes must be a list of 1 to 1000 layer widths",
        ),
        # within the limits, but not what the weights hold
        (
            {"type": "MLP", "nin": 500, "sizes": [1000]},
            [[[0.0]]],
            "layer 0 holds 1 neurons; the architecture says 1000",
        ),
        (
            {"type": "Neuron", "nin": 900},
            [[[0.0, 1.0]]],
            "layer 0 neuron 0 holds 2 numbers; the architecture says 901",
        ),
        (
            {"type": "MLP", "nin": 2, "sizes": [3, 1]},
            [[[0, 0, 0]] * 3, [[0] * 5]],
            "layer 1 neuron 0 holds 5",
        ),
    ],
)
def test_sizes_are_checked_before_anything_is_built(tmp_path, architecture, weights, message):
    with pytest.raises(ModelFileError, match=message):
        load(model_file(tmp_path, architecture, weights))


def test_a_model_at_the_limit_loads_and_save_refuses_one_over_it(tmp_path, monkeypatch):
    model = MLP(2, [3, 1], seed=0)  # 3 * 3 + 4 = 13 parameters
    monkeypatch.setattr(nn.serialize, "MAX_PARAMETERS", 13)
    same_model(load(save(model, tmp_path / "m.json")), model)
    monkeypatch.setattr(nn.serialize, "MAX_PARAMETERS", 12)
    with pytest.raises(ModelFileError, match="13 parameters, over the limit of 12"):
        load(tmp_path / "m.json")
    with pytest.raises(
        ValueError, match=r"save\(\): the architecture has 13 parameters, over the limit of 12"
    ):
        save(model, tmp_path / "big.json")
    assert not (tmp_path / "big.json").exists()


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    path = save(MLP(2, [3, 1], seed=0), tmp_path / "m.json")
    monkeypatch.setattr(nn.serialize, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(ModelFileError, match=f"larger than the limit of {path.stat().st_size - 1:,} bytes"):
        load(path)


# --- whatever the JSON holds, a bad file is a ModelFileError


NEURON = '{"format": "chainrule-model", "version": 1, "architecture": {"type": "Neuron", "nin": 1}, '


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (NEURON + '"weights": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
        (
            NEURON + '"weights": [[' + "[" * 30 + "]" * 30 + "]]}",
            r"layer 0 neuron 0 holds 1 numbers; .* says 2",
        ),
        (NEURON + '"weights": [[[1' + "0" * 400 + ", 0]]]}", "an integer of 401 characters"),
        (NEURON + '"weights": [[[' + "7" * 5001 + ", 0]]]}", "an integer of 5001 characters"),
        (NEURON.replace('"nin": 1', '"nin": 1' + "0" * 400) + '"weights": []}', "an integer of 401"),
        (NEURON + '"weights": [[[1e400, 0]]]}', "entry 0 is inf, not a number"),
        (NEURON + '"weights": [[[-1e400, 0]]]}', "entry 0 is -inf, not a number"),
        (NEURON + '"weights": [[[0.5, Infinity]]]}', "holds Infinity, not a finite number"),
    ],
)
def test_crafted_json_raises_model_file_error(tmp_path, text, message):
    with pytest.raises(ModelFileError, match=message):
        load(write(tmp_path, text))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.__setitem__("version", True), "format version True is not an integer"),
        (lambda d: d.__setitem__("version", 1.0), "format version 1.0 is not an integer"),
        (lambda d: d.__setitem__("version", "1"), "format version '1' is not an integer"),
        (lambda d: d["architecture"].__setitem__("bias", "no"), "bias must be bool, got 'no'"),
        (lambda d: d["architecture"].__setitem__("bias", 1), "bias must be bool, got 1"),
        (lambda d: d["architecture"].__setitem__("nin", 2.0), "nin must be int, got 2.0"),
        (lambda d: d["architecture"].__setitem__("nin", True), "nin must be int, got True"),
        (
            lambda d: d["architecture"].__setitem__("sizes", [3.0, 1]),
            r"sizes must hold integers, got \[3.0, 1\]",
        ),
        (lambda d: d["architecture"].__setitem__("sizes", "31"), "sizes must be list, got '31'"),
        (
            lambda d: d["architecture"].__setitem__("activation", ["relu"]),
            r"activation must be str, got \['relu'\]",
        ),
        (lambda d: d["architecture"].__setitem__("activation", "swish"), "activation must be one of"),
        (lambda d: d["architecture"].__setitem__("type", ["MLP"]), "architecture must name a type among"),
        (lambda d: d["architecture"].__setitem__("nonlin", False), "MLP has no field 'nonlin'"),
        (lambda d: d["architecture"].__setitem__("seed", 3), "MLP has no field 'seed'"),
        (lambda d: d.__setitem__("architecture", [1, 2]), "architecture must name a type among"),
        (lambda d: d.__setitem__("pickle", "cos\nsystem"), r"unknown keys \['pickle'\]"),
    ],
)
def test_field_types_are_exact(tmp_path, change, message):
    _, data = good(tmp_path)
    change(data)
    with pytest.raises(ModelFileError, match=message):
        load(write(tmp_path, data))


def paths(node, prefix=()):
    """Every place in a JSON tree, as a tuple of keys and indexes."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from paths(child, (*prefix, key))


ODD_VALUES = [None, True, False, 0, -1, 1.5, 1e308, "", "relu", [], [[]], {}, {"type": "MLP"}, [1.0] * 3]


def test_any_value_anywhere_either_loads_or_raises_model_file_error(tmp_path):
    """Each place of a good file (a key's value, a list item) replaced by each odd value in turn."""
    _, data = good(tmp_path)
    loaded = []
    for where in list(paths(data))[1:]:
        for odd in ODD_VALUES:
            changed = json.loads(json.dumps(data))
            *parent, last = where
            node = changed
            for key in parent:
                node = node[key]
            node[last] = odd
            try:
                model = load(write(tmp_path, changed))
            except ModelFileError:
                continue
            loaded.append((where, odd))
            assert all(math.isfinite(p.data) for p in model.parameters()), (where, odd)
    # what may load: a weight replaced by a finite number, or a field by a value it may hold
    weights = [w for w in paths(data["weights"], ("weights",)) if len(w) == 4]
    expected = [(w, v) for w in weights for v in ODD_VALUES if type(v) in (int, float)]
    expected += [(("architecture", "activation"), "relu"), (("architecture", "bias"), True)]
    expected += [(("architecture", "output_activation"), "relu")]
    rows = [(i, j) for i, layer in enumerate(data["weights"]) for j, row in enumerate(layer) if len(row) == 3]
    expected += [(("weights", i, j), [1.0] * 3) for i, j in rows]  # a row of the right length
    assert sorted(loaded, key=repr) == sorted(expected, key=repr)


# --- saving: clear errors naming the path, modes kept, symlinks followed, long names


def test_save_into_a_missing_directory_names_the_path(tmp_path):
    path = tmp_path / "no" / "such" / "m.json"
    with pytest.raises(FileNotFoundError) as e:
        save(MLP(2, [1], seed=0), path)
    assert (
        str(e.value)
        == f"cannot save the model to {str(path)!r}: the directory {str(path.parent)!r} does not exist"
    )
    assert not (tmp_path / "no").exists()


def test_save_under_a_file_is_one_error_not_two(tmp_path):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "m.json"
    with pytest.raises(
        NotADirectoryError, match=f"cannot save the model to '{path}': '{path.parent}' is not a directory"
    ) as e:
        save(MLP(2, [1], seed=0), path)
    assert e.value.__context__ is None and e.value.__cause__ is None


def test_save_onto_a_directory_names_it(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"cannot save the model to '{tmp_path}': it is a directory"):
        save(MLP(2, [1], seed=0), tmp_path)


def test_an_unwritable_directory_is_one_error_naming_the_path_and_cleanup_never_masks_it(
    tmp_path, monkeypatch
):
    # (permissions are not enforced for root, so the refusal is simulated where the file is created)
    real_open = os.open

    def refuse(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    def unlink_fails(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(nn.serialize.os, "open", refuse)
    monkeypatch.setattr(nn.serialize.Path, "unlink", unlink_fails)
    path = tmp_path / "m.json"
    with pytest.raises(PermissionError) as e:
        save(MLP(2, [1], seed=0), path)
    assert str(e.value) == f"cannot save the model to {str(path)!r}: Permission denied"
    assert e.value.errno == 13 and e.value.__suppress_context__
    assert not path.exists()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_re_saving_keeps_the_files_mode(tmp_path, mode):
    path = save(MLP(2, [1], seed=0), tmp_path / "m.json")
    path.chmod(mode)
    save(MLP(2, [1], seed=1), path)
    assert path.stat().st_mode & 0o777 == mode
    same_model(load(path), MLP(2, [1], seed=1))


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "models").mkdir()
    real = save(MLP(2, [1], seed=0), tmp_path / "models" / "real.json")
    link = tmp_path / "link.json"
    link.symlink_to(os.path.join("models", "real.json"))  # relative, from another directory
    assert save(MLP(2, [1], seed=1), link) == link
    assert link.is_symlink() and os.readlink(link) == os.path.join("models", "real.json")
    same_model(load(real), MLP(2, [1], seed=1))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["real.json"]


def test_a_dangling_symlink_into_a_missing_directory_names_the_link(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "gone" / "m.json")
    with pytest.raises(FileNotFoundError, match=f"cannot save the model to '{link}'"):
        save(MLP(2, [1], seed=0), link)


def test_a_long_but_valid_file_name_works(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("m" * (limit - len(".json")) + ".json")
    save(MLP(2, [1], seed=0), path)
    same_model(load(path), MLP(2, [1], seed=0))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_check_save_path_fails_early_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.serialize.check_save_path(tmp_path / "missing" / "m.json")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real.json")
    assert nn.serialize.check_save_path(link) == tmp_path / "real.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_save_and_load_refuse_a_fifo_or_a_device_before_blocking_or_replacing_it(tmp_path):
    """A FIFO nobody writes made load block forever; save through a symlink to a device replaced
    the device with a regular file. Both now refuse with one error, touching nothing."""
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"model\.json: it is a FIFO \(named pipe\), not a regular file"):
        nn.load(fifo)  # returns at once: opened without waiting for a writer
    with pytest.raises(
        OSError, match=r"cannot save the model to .*model\.json.: it is a FIFO \(named pipe\)"
    ):
        nn.save(MLP(2, [2, 1], seed=0), fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO
    link = tmp_path / "null.json"
    link.symlink_to(os.devnull)
    with pytest.raises(OSError, match="it is a character device, not a regular file"):
        nn.save(MLP(2, [2, 1], seed=0), link)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode) and link.is_symlink()
    with pytest.raises(ModelFileError, match="it is a character device"):
        nn.load(link)
