"""The data layer against a local HTTP server on 127.0.0.1: download, cache, faults, offline."""

import hashlib
import pathlib

import pytest

from mitdeeplearning import data

BODY = b"0123456789" * 5000
SHA = "sha256:" + hashlib.sha256(BODY).hexdigest()


def test_download_then_cache_hit(http_server, data_home):
    http_server.files["tunes.abc"] = BODY
    path = data.fetch(http_server.url("ok", "tunes.abc"), known_hash=SHA, progressbar=False)
    assert path.name == "tunes.abc" and path.parent.parent == data_home / "urls" and path.read_bytes() == BODY
    assert data.is_cached(http_server.url("ok", "tunes.abc"))
    hits = len(http_server.requests)
    again = data.fetch(http_server.url("ok", "tunes.abc"), known_hash=SHA, progressbar=False)
    assert again == path and len(http_server.requests) == hits  # served from the cache


def test_registered_name_uses_registry_entry(http_server, data_home, monkeypatch):
    http_server.files["mnist.npz"] = BODY
    entry = data.DataFile(http_server.url("ok", "mnist.npz"), SHA, len(BODY), "test copy")
    monkeypatch.setitem(data.REGISTRY, "mnist.npz", entry)
    assert data.fetch("mnist.npz", progressbar=False).read_bytes() == BODY


def test_http_404_explains_and_leaves_nothing(http_server, data_home):
    url = http_server.url("ok", "missing.bin")
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch(url, progressbar=False)
    message = str(info.value)
    assert "404" in message and url in message and str(data.data_dir()) in message and "missing.bin" in message
    assert "download" in message.lower()
    assert not any(p.is_file() for p in data_home.rglob("*"))


def test_wrong_hash_is_rejected_and_deleted(http_server, data_home):
    http_server.files["tunes.abc"] = BODY
    with pytest.raises(data.DataUnavailableError, match="(?i)hash"):
        data.fetch(http_server.url("ok", "tunes.abc"), known_hash="sha256:" + "0" * 64, progressbar=False)
    assert list(data_home.iterdir()) == []


def test_truncated_body_is_rejected_and_deleted(http_server, data_home):
    http_server.files["tunes.abc"] = BODY
    with pytest.raises(data.DataUnavailableError):
        data.fetch(http_server.url("truncated", "tunes.abc"), progressbar=False)
    assert list(data_home.iterdir()) == []


def test_wrong_size_without_hash_is_rejected(http_server, data_home):
    http_server.files["tunes.abc"] = BODY
    with pytest.raises(data.DataUnavailableError, match=f"{len(BODY)} bytes, expected {len(BODY) + 1}"):
        data.fetch(http_server.url("ok", "tunes.abc"), size=len(BODY) + 1, progressbar=False)
    assert list(data_home.iterdir()) == []


def test_slow_server_times_out(http_server, data_home):
    http_server.files["tunes.abc"] = BODY
    http_server.slow_seconds = 3
    with pytest.raises(data.DataUnavailableError, match="(?i)timed? ?out"):
        data.fetch(http_server.url("slow", "tunes.abc"), timeout=0.5, progressbar=False)
    assert list(data_home.iterdir()) == []


def test_offline_fails_at_once_with_advice(http_server, data_home, monkeypatch):
    monkeypatch.setenv("MDL_OFFLINE", "1")
    http_server.files["tunes.abc"] = BODY
    url = http_server.url("ok", "tunes.abc")
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch(url, progressbar=False)
    assert "MDL_OFFLINE" in str(info.value) and url in str(info.value)
    assert http_server.requests == []  # no network was touched


def test_offline_still_serves_cached_files(http_server, data_home, monkeypatch):
    http_server.files["tunes.abc"] = BODY
    data.fetch(http_server.url("ok", "tunes.abc"), progressbar=False)
    monkeypatch.setenv("MDL_OFFLINE", "1")
    assert data.fetch(http_server.url("ok", "tunes.abc"), progressbar=False).read_bytes() == BODY


def test_corrupt_cached_copy_is_reported_offline(data_home, monkeypatch):
    monkeypatch.setenv("MDL_OFFLINE", "1")
    data_home.mkdir(parents=True)
    (data_home / "mnist.npz").write_bytes(b"not the real file")
    with pytest.raises(data.DataUnavailableError, match="corrupt") as info:
        data.fetch("mnist.npz", progressbar=False)
    assert f"rm '{data_home / 'mnist.npz'}'" in str(info.value)


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MDL_DATA_DIR", str(tmp_path / "x"))
    assert data.data_dir() == tmp_path / "x"
    monkeypatch.delenv("MDL_DATA_DIR")
    checkout = pathlib.Path(data.__file__).resolve().parent.parent
    assert data.data_dir() == checkout / "data"  # tests run from a checkout


def test_unknown_name_is_a_clear_error(data_home):
    with pytest.raises(ValueError, match="neither a registered data file"):
        data.fetch("no-such-thing.bin")
