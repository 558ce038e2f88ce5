"""Faults in the download cache, against misbehaving servers on 127.0.0.1.

Every cache write is checked before it is moved in place (Content-Length, not an HTML page, a
content check such as "ABC text with a tune"), a bad cached copy is replaced or reported with its
path, the cache key is the whole URL, a trickling server meets a total deadline, pooch's advice to
library authors stays out of the student's output and cached files are ordinary 0644 files.
"""

import http.server
import logging
import os
import threading
import time

import pytest

from mitdeeplearning import data, mnist, music

TUNE = b"X:1\nT:Test\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n"
OTHER_TUNE = b"X:1\nT:Other\nM:6/8\nL:1/8\nK:D\nFAA DAA|FAA dAF|EAA cAA|EAA ecA|\n"
LOGIN_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Log in</body></html>\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    """``server.routes[path] = (body, behaviour)``, the path including any query string.

    Behaviours: ``ok``; ``nolength`` (no Content-Length, connection closed after the body);
    ``trickle`` (announces the body, sends it one byte per ``server.trickle_s``)."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args):  # keep test output clean; failures show in assertions
        return

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_response(404)
            self.end_headers()
            return
        body, behaviour = self.server.routes[self.path]
        self.send_response(200)
        if behaviour != "nolength":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "trickle":
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(self.server.trickle_s)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.routes, srv.requests, srv.trickle_s = {}, [], 0.1
    srv.url = lambda path: f"http://127.0.0.1:{srv.server_port}{path}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def cached_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_html_page_served_as_abc_is_rejected_and_not_cached(server, data_home):
    server.routes["/tunes.abc"] = (LOGIN_PAGE, "ok")
    with pytest.raises(data.DataUnavailableError, match="HTML page") as info:
        music.load_training_data(server.url("/tunes.abc"), verbose=False)
    assert server.url("/tunes.abc") in str(info.value) and "download" in str(info.value)
    assert cached_files(data_home) == []


def test_text_without_a_tune_is_rejected_and_not_cached(server, data_home):
    server.routes["/tunes.abc"] = (b"Service temporarily unavailable, try again later\n", "nolength")
    with pytest.raises(data.DataUnavailableError, match="holds no ABC tune"):
        music.load_training_data(server.url("/tunes.abc"), verbose=False)
    assert cached_files(data_home) == []


def test_good_abc_is_cached_once_then_served_from_the_cache(server, data_home):
    server.routes["/tunes.abc"] = (TUNE, "nolength")
    songs = music.load_training_data(server.url("/tunes.abc"), verbose=False)
    assert len(songs) == 1 and "T:Test" in songs[0]
    assert len(cached_files(data_home)) == 1
    music.load_training_data(server.url("/tunes.abc"), verbose=False)
    assert server.requests == ["/tunes.abc"]


def test_poisoned_cache_is_refetched_once_the_server_is_fixed(server, data_home, capsys):
    url = server.url("/tunes.abc")
    server.routes["/tunes.abc"] = (TUNE, "ok")
    path = data.fetch(url, verify=music.check_abc_file, progressbar=False)
    path.write_bytes(LOGIN_PAGE)  # what an older version cached from a login page
    songs = music.load_training_data(url, verbose=False)
    assert "T:Test" in songs[0] and path.read_bytes() == TUNE
    out = capsys.readouterr().out
    assert f"The cached {path} is corrupt" in out and "fresh copy" in out


def test_poisoned_cache_offline_names_the_file_and_the_fix(server, data_home, monkeypatch):
    url = server.url("/tunes.abc")
    server.routes["/tunes.abc"] = (TUNE, "ok")
    path = data.fetch(url, verify=music.check_abc_file, progressbar=False)
    path.write_bytes(b"X:1\nT:cut short before its key line\n")
    monkeypatch.setenv("MDL_OFFLINE", "1")
    with pytest.raises(data.DataUnavailableError) as info:
        music.load_training_data(url, verbose=False)
    message = str(info.value)
    assert str(path) in message and f"rm '{path}'" in message and "no ABC tune" in message


def test_corrupt_registered_file_is_downloaded_again(server, data_home, monkeypatch, capsys):
    import hashlib

    body = b"registered content " * 100
    server.routes["/reg.bin"] = (body, "ok")
    entry = data.DataFile(server.url("/reg.bin"), "sha256:" + hashlib.sha256(body).hexdigest(), None, "test")
    monkeypatch.setitem(data.REGISTRY, "reg.bin", entry)
    data_home.mkdir(parents=True)
    (data_home / "reg.bin").write_bytes(b"half a file")
    assert data.fetch("reg.bin", progressbar=False).read_bytes() == body
    assert "is corrupt" in capsys.readouterr().out


def test_cache_key_covers_the_whole_url(server, data_home):
    server.routes["/a/tunes.abc"] = (TUNE, "ok")
    server.routes["/b/tunes.abc"] = (OTHER_TUNE, "ok")
    server.routes["/a/tunes.abc?v=2"] = (OTHER_TUNE.replace(b"Other", b"Version 2"), "ok")
    first = music.load_training_data(server.url("/a/tunes.abc"), verbose=False)
    other = music.load_training_data(server.url("/b/tunes.abc"), verbose=False)
    query = music.load_training_data(server.url("/a/tunes.abc?v=2"), verbose=False)
    assert "T:Test" in first[0] and "T:Other" in other[0] and "T:Version 2" in query[0]
    assert len(cached_files(data_home)) == 3
    assert all(p.name == "tunes.abc" for p in cached_files(data_home))
    assert data.is_cached(server.url("/b/tunes.abc")) and not data.is_cached(server.url("/c/tunes.abc"))


def test_content_length_shortfall_leaves_nothing(http_server, data_home):
    http_server.files["tunes.abc"] = TUNE * 50
    with pytest.raises(data.DataUnavailableError):
        music.load_training_data(http_server.url("truncated", "tunes.abc"), verbose=False)
    assert cached_files(data_home) == []


def test_trickling_server_meets_the_total_deadline(server, data_home):
    # 200 bytes at one byte per 0.1 s: every read gets data well within the per-read timeout,
    # only the total deadline can end it (without one the download completes after 20 s)
    server.routes["/slow.abc"] = (TUNE + b" " * (200 - len(TUNE)), "trickle")
    with pytest.raises(data.DataUnavailableError, match="deadline of 1 s"):
        data.fetch(server.url("/slow.abc"), timeout=5, deadline=1, progressbar=False)
    assert cached_files(data_home) == []


def test_mnist_auto_gives_up_on_a_stalled_server_with_its_own_short_timeout(http_server, data_home, monkeypatch, capsys):
    http_server.files["mnist.npz"] = b"x" * 100
    http_server.slow_seconds = 5
    entry = data.DataFile(http_server.url("slow", "mnist.npz"), None, None, "stalled copy")
    monkeypatch.setitem(data.REGISTRY, "mnist.npz", entry)
    monkeypatch.setattr(mnist, "AUTO_TIMEOUT_S", 0.3)
    (x_train, _), _ = mnist.load_mnist("auto")
    assert len(x_train) < 60000  # fell back to the bundled subset
    out = capsys.readouterr().out
    assert "full MNIST unavailable" in out and "timed out" in out.lower()


def test_no_hash_advice_and_cached_files_are_0644(server, data_home, capfd):
    records = []
    collect = logging.Handler()
    collect.emit = records.append
    import pooch

    pooch.get_logger().addHandler(collect)
    try:
        server.routes["/tunes.abc"] = (TUNE, "ok")
        path = data.fetch(server.url("/tunes.abc"), progressbar=False)
    finally:
        pooch.get_logger().removeHandler(collect)
    assert records and not any("known_hash" in r.getMessage() for r in records)
    assert "known_hash" not in capfd.readouterr().err
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
