"""nn.datasets: shapes, labels, seeds, geometry, splits, batches and the bundled digits."""

import gzip
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from nn import datasets

DATA = Path(datasets.__file__).parent / "data"


def test_xor_is_the_truth_table():
    X, y = datasets.xor()
    assert X.dtype == np.float64 and X.shape == (4, 2)
    assert y.dtype == np.int64
    assert {tuple(x): t for x, t in zip(X.tolist(), y.tolist())} == {
        (0.0, 0.0): 0, (0.0, 1.0): 1, (1.0, 0.0): 1, (1.0, 1.0): 0}  # fmt: skip


@pytest.mark.parametrize(
    "make, classes",
    [
        (lambda **k: datasets.moons(n=101, **k), 2),
        (lambda **k: datasets.spirals(n=101, classes=3, **k), 3),
        (lambda **k: datasets.spirals(n=50, classes=5, **k), 5),
        (lambda **k: datasets.blobs(n=101, classes=4, **k), 4),
    ],
)
def test_shapes_labels_and_seeds(make, classes):
    X, y = make(seed=3)
    assert X.ndim == 2 and X.shape[1] == 2 and X.dtype == np.float64
    assert y.shape == (len(X),) and y.dtype == np.int64
    assert set(y.tolist()) == set(range(classes))
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # classes balanced
    X2, y2 = make(seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)  # same seed, same data
    X3, _ = make(seed=4)
    assert not np.array_equal(X, X3)  # another seed, other data
    assert not np.array_equal(y, np.sort(y))  # shuffled, not grouped by class


def test_moons_without_noise_lie_on_their_two_half_circles():
    X, y = datasets.moons(n=200, noise=0.0)
    outer, inner = X[y == 0], X[y == 1]
    assert len(outer) == len(inner) == 100
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0, atol=1e-12)
    assert outer[:, 1].min() >= -1e-12 and inner[:, 1].max() <= 0.5 + 1e-12
    assert outer[:, 0].min() == pytest.approx(-1.0) and inner[:, 0].max() == pytest.approx(2.0)


def test_moons_noise_has_the_given_size():
    noisy, y2 = datasets.moons(n=2000, noise=0.1, seed=1)
    r = np.where(y2 == 0, np.hypot(*noisy.T), np.hypot(noisy[:, 0] - 1.0, noisy[:, 1] - 0.5))
    assert 0.06 < np.std(r - 1.0) < 0.12


def test_spiral_arms_wind_outwards_without_noise():
    X, y = datasets.spirals(n=300, classes=3, noise=0.0)
    r = np.hypot(*X.T)
    assert r.min() == pytest.approx(0.0, abs=1e-12) and r.max() == pytest.approx(1.0)
    for k in range(3):
        arm = X[y == k]
        angle = np.arctan2(arm[:, 0], arm[:, 1])  # points are r * (sin t, cos t)
        radius = np.hypot(*arm.T)
        order = np.argsort(radius)
        # along an arm the radius grows by 1/99 per point, and the angle by 4/99 rad (mod 2 pi)
        np.testing.assert_allclose(np.diff(radius[order]), 1 / 99, atol=1e-12)
        step = np.angle(np.exp(1j * np.diff(angle[order][1:])))  # skip r = 0, where the angle is undefined
        np.testing.assert_allclose(step, 4 / 99, atol=1e-9)


def test_blobs_are_linearly_separable():
    for classes in (2, 3, 5, 10):
        X, y = datasets.blobs(n=500, classes=classes, spread=1.0, seed=classes)
        angles = 2 * np.pi * np.arange(classes) / classes
        centres = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)])
        assert np.array_equal(np.argmax(X @ centres.T, axis=1), y)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="noise"):
        datasets.moons(noise=-1)
    with pytest.raises(ValueError, match="at least 2"):
        datasets.spirals(classes=1)
    with pytest.raises(ValueError, match="at least 3"):
        datasets.blobs(n=2, classes=3)
    with pytest.raises(ValueError, match="sum to 1"):
        datasets.split(*datasets.xor(), fractions=(0.5, 0.2))
    with pytest.raises(ValueError, match="one label per row"):
        datasets.split([[1.0], [2.0]], [0])
    with pytest.raises(ValueError, match="batch_size"):
        next(datasets.batches(*datasets.xor(), batch_size=0))


def test_split_sizes_disjoint_and_complete():
    X, y = datasets.moons(n=1000, seed=2)
    X[:, 0] += np.arange(1000) * 10.0  # make every row unique so rows identify examples
    train, valid, test = datasets.split(X, y, seed=5)
    assert [len(p[1]) for p in (train, valid, test)] == [700, 150, 150]
    rows = [set(map(tuple, part[0].tolist())) for part in (train, valid, test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert set.union(*rows) == set(map(tuple, X.tolist()))
    lookup = {tuple(x): t for x, t in zip(X.tolist(), y.tolist())}
    for Xp, yp in (train, valid, test):  # labels travel with their rows
        assert [lookup[tuple(x)] for x in Xp.tolist()] == yp.tolist()
    again = datasets.split(X, y, seed=5)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip((train, valid, test), again))
    other = datasets.split(X, y, seed=6)
    assert not np.array_equal(train[0], other[0][0])


def test_split_rounds_and_takes_lists_and_other_fractions():
    X, y = datasets.digits()
    # cuts at round(0.7 * 1797) = round(1257.9) and round(0.85 * 1797) = round(1527.45)
    assert [len(p[1]) for p in datasets.split(X, y)] == [1258, 269, 270]
    parts = datasets.split([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1], fractions=(0.5, 0.5))
    assert [p[0].shape for p in parts] == [(2, 1), (2, 1)]
    assert isinstance(parts[0][0], np.ndarray)


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (5, 8), (1797, 32)])
def test_batches_cover_every_example_once_per_epoch(n, batch_size):
    X = np.arange(n, dtype=float).reshape(n, 1)
    y = np.arange(n) % 3
    seen = []
    sizes = []
    for Xb, yb in datasets.batches(X, y, batch_size, seed=7):
        assert np.array_equal(yb, Xb[:, 0].astype(int) % 3)  # labels stay with their rows
        seen.extend(Xb[:, 0].astype(int).tolist())
        sizes.append(len(yb))
    assert sorted(seen) == list(range(n))
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if n > batch_size:
        assert seen != list(range(n))  # shuffled
    epoch2 = [int(v) for Xb, _ in datasets.batches(X, y, batch_size, seed=8) for v in Xb[:, 0]]
    assert sorted(epoch2) == list(range(n)) and epoch2 != seen
    assert [int(v) for Xb, _ in datasets.batches(X, y, batch_size, seed=7) for v in Xb[:, 0]] == seen


def test_batches_unshuffled_and_drop_last():
    X, y = np.arange(10.0).reshape(10, 1), np.zeros(10, dtype=int)
    assert [b[0][:, 0].tolist() for b in datasets.batches(X, y, 4, seed=None)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # fmt: skip
    assert [len(b[1]) for b in datasets.batches(X, y, 4, drop_last=True)] == [4, 4]


def test_digits_facts():
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.sum() == 561718
    assert X[0].reshape(8, 8)[:, 0].sum() == 0 and y[0] == 0 and y[1] == 1  # first image: a zero
    assert X[0, :8].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    Xn, yn = datasets.digits(normalize=True)
    assert Xn.max() == 1.0 and np.array_equal(Xn * 16, X) and np.array_equal(yn, y)


def test_digits_file_is_the_published_one_and_small():
    data = (DATA / "digits.csv.gz").read_bytes()
    assert len(data) < 64_000
    sha256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert hashlib.sha256(data).hexdigest() == sha256
    notice = (DATA / "DIGITS_NOTICE.txt").read_text()
    assert "CC BY 4.0" in notice and "Alpaydin" in notice and "scikit-learn" in notice


def _with_bundled_file(monkeypatch, tmp_path, content: bytes):
    """Point digits() at a package whose data/digits.csv.gz holds `content`."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digits.csv.gz").write_bytes(content)
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not gzip at all", "corrupt"),
        (gzip.compress(b"1,2,3\n4,5,6\n"), r"shape \(2, 3\)"),
        (gzip.compress(b"1,x,3\n"), "not a table of integers"),
        (gzip.compress(("0," * 64 + "12\n").encode() * 1797), "labels 0..9"),
        (gzip.compress(("17," * 64 + "1\n").encode() * 1797), "pixels must be 0..16"),
    ],
)
def test_corrupt_digits_file_raises_a_clear_error(monkeypatch, tmp_path, content, message):
    _with_bundled_file(monkeypatch, tmp_path, content)
    with pytest.raises(ValueError, match=message):
        datasets.digits()


def test_truncated_digits_file(monkeypatch, tmp_path):
    good = (DATA / "digits.csv.gz").read_bytes()
    _with_bundled_file(monkeypatch, tmp_path, good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        datasets.digits()


def test_missing_digits_file(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    with pytest.raises(FileNotFoundError, match="reinstall"):
        datasets.digits()


@pytest.mark.parametrize(
    "make",
    [
        lambda: datasets.moons(noise=math.inf),
        lambda: datasets.moons(noise=math.nan),
        lambda: datasets.spirals(noise=math.nan),
        lambda: datasets.blobs(spread=math.inf),
        lambda: datasets.blobs(radius=math.nan),
    ],
)
def test_nan_and_infinite_noise_or_spread_are_refused(make):
    """moons(noise=inf) used to return a data set of inf."""
    with pytest.raises(ValueError, match="must be a finite"):
        make()


def test_counts_and_seeds_accept_numpy_integers_and_batches_share_fits_shuffle():
    X, y = datasets.moons(n=np.int64(20), noise=np.float32(0.1), seed=np.uint8(0))
    assert X.shape == (20, 2)
    first = next(datasets.shuffled_orders(20, 5))
    assert np.array_equal(
        np.concatenate([yb for _, yb in datasets.batches(X, y, np.int32(6), seed=5)]), y[first]
    )
