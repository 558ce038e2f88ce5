import http.server
import threading
import time

import pytest


def pytest_configure(config):
    # The lab 3 notebook's setup cell (which tests load with mdl_tools.notebook_code) sets one
    # intra-op thread, and TensorFlow refuses that change once it has run an operation. Setting it
    # here, before any test runs TensorFlow, keeps every test's TensorFlow the same, whatever the
    # order of the tests.
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the files in ``server.files``; paths under /truncated/ and /slow/ misbehave on purpose."""

    def log_message(self, *args):  # keep test output clean; failures show in assertions
        return

    def do_GET(self):
        kind, _, name = self.path.lstrip("/").partition("/")
        body = self.server.files.get(name)
        self.server.requests.append(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "truncated":  # promise the whole body, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "slow":
            time.sleep(self.server.slow_seconds)
        self.wfile.write(body)


@pytest.fixture
def http_server():
    """A file server on 127.0.0.1: ``server.files[name] = bytes``; URLs ``server.url(kind, name)``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files = {}
    server.requests = []
    server.slow_seconds = 5
    server.url = lambda kind, name: f"http://127.0.0.1:{server.server_port}/{kind}/{name}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty download cache, online mode."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MDL_DATA_DIR", str(folder))
    monkeypatch.delenv("MDL_OFFLINE", raising=False)
    return folder


_SMOKE_RUNS = {}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Execute a checkout notebook once per test run in the smoke profile; returns its RunResult.

    Usage: ``result = smoke_run("lab1/solutions/Part1_TensorFlow_Solution.ipynb")``; the executed
    copy is at ``result.output``. Several tests can inspect one run without paying for it twice.
    """
    from mdl_tools import notebooks, runner

    root = notebooks.find_root(__file__)
    out = tmp_path_factory.mktemp("smoke")

    def run(relpath):
        if relpath not in _SMOKE_RUNS:
            _SMOKE_RUNS[relpath] = runner.run_notebook(root / relpath, "smoke", out, root, cell_timeout=600)
        return _SMOKE_RUNS[relpath]

    return run


@pytest.fixture(scope="session")
def debiasing_code():
    """The lab 2 Part 2 solution notebook's own code (its ``reference`` cells) as a module, on the
    notebook's ``smoke`` data and budget: the one source of the DB-VAE that tests exercise."""
    import nbformat

    from mdl_tools import notebook_code, notebooks, runner

    path = notebooks.find_root(__file__) / "lab2" / "solutions" / "Part2_Debiasing_Solution.ipynb"
    smoke = runner.profile_overrides(nbformat.read(path, as_version=4), "smoke")
    return notebook_code.load(path, parameters=smoke)


# --------------------------------------------------------------------------------------------
# Record the wall time of a full run (what `make test` runs) for RESULTS.md (`mitdeeplearning bench`)
# --------------------------------------------------------------------------------------------
_SESSION_START = {}


def pytest_sessionstart(session):
    _SESSION_START["t"] = time.perf_counter()


def pytest_sessionfinish(session, exitstatus):
    """Write results/test_run.json after a run of the whole suite (no paths, -k or -m given)."""
    import datetime
    import json
    import os
    import pathlib

    config = session.config
    whole_suite = (config.args_source == pytest.Config.ArgsSource.TESTPATHS
                   and not config.option.keyword and not config.option.markexpr)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not whole_suite or reporter is None or "t" not in _SESSION_START:
        return
    counts = {k: len([r for r in reporter.stats.get(k, []) if getattr(r, "when", "call") in ("call", "setup")])
              for k in ("passed", "failed", "skipped", "error")}
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.perf_counter() - _SESSION_START["t"],
        "cpu_count": os.cpu_count(),
        "exit_status": int(exitstatus),
        **counts,
    }
    path = pathlib.Path(__file__).resolve().parents[1] / "results" / "test_run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
