"""The Colab runtime freezes in .ci/colab/runtimes and the logic of .ci/colab/replica.py.

`make test-colab` builds the replicas and runs the labs there (minutes, downloads). These tests
need neither: they hold every dependency floor of pyproject.toml against every freeze, and prove
that the checks the replica makes can fail.
"""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load_replica():
    spec = importlib.util.spec_from_file_location("colab_replica", ROOT / ".ci" / "colab" / "replica.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


replica = _load_replica()
RUNTIMES = replica.load_runtimes()


def test_the_newest_and_an_older_runtime_are_kept():
    pythons = {rt.python_minor for rt in RUNTIMES}
    assert len(RUNTIMES) >= 2 and len(pythons) >= 2, f"runtimes: {RUNTIMES}"


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda rt: rt.name)
def test_freeze_file_names_its_source(runtime):
    match = re.fullmatch(r"googlecolab/backend-info@([0-9a-f]{40}) pip-freeze\.txt \((\d{4}-\d{2}-\d{2}), .+\)", runtime.source)
    assert match, f"{runtime.path.name}: source line {runtime.source!r} lacks the commit and date"
    commit, date = match.groups()
    assert runtime.name == f"{date}-{commit[:7]}", f"{runtime.path.name}: the file name must be <date>-<short commit>"
    assert re.fullmatch(r"3\.\d+\.\d+", runtime.python)
    for package in ("tensorflow", "keras", "numpy", "ipython", "ipykernel", "ipywidgets", "pip"):
        assert package in runtime.pins, f"{runtime.name}: the freeze has no {package} pin"


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda rt: rt.name)
def test_every_floor_is_met_by_what_colab_ships(runtime):
    """pip replaces a preinstalled package whose version a dependency range excludes."""
    _, requirements = replica.project()
    assert replica.unmet_requirements(requirements, runtime) == []


def test_a_floor_above_colabs_ipython_is_caught():
    _, requirements = replica.project()
    raised = [re.sub(r"^ipython>=.*$", "ipython>=8", r) for r in requirements]
    assert raised != requirements, "pyproject.toml has no ipython dependency to raise"
    for runtime in RUNTIMES:
        unmet = replica.unmet_requirements(raised, runtime)
        assert unmet == [f"ipython>=8 (the runtime has ipython {runtime.pins['ipython']})"], unmet


def test_constraints_leave_out_direct_references():
    runtime = next(rt for rt in RUNTIMES if any("google-colab @" in line for line in rt.unpinned))
    assert all("@" not in line for line in runtime.constraints)
    assert replica.normalize("google-colab") not in runtime.pins


def test_change_detection():
    before = {"ipython": "7.34.0", "traitlets": "5.7.1", "numpy": "2.1.3", "ours": "0.1.0"}
    after = {"ipython": "9.19.1", "numpy": "2.1.3", "ours": "0.2.0", "new-package": "1.0"}
    assert replica.changes(before, after, ignore=["ours"]) == ["ipython 7.34.0 -> 9.19.1", "traitlets 5.7.1 removed"]
    assert replica.changes(before, dict(before)) == []
    report = {"install": [{"metadata": {"name": "IPython", "version": "9.19.1"}},
                          {"metadata": {"name": "numpy", "version": "2.1.3"}},
                          {"metadata": {"name": "brand_new", "version": "1.0"}}]}
    assert replica.planned_changes(before, report) == ["ipython 7.34.0 -> 9.19.1"]


def test_clashing_copy_raises_only_the_ipython_floor(tmp_path):
    runtime = RUNTIMES[-1]
    folder, floor = replica.clashing_copy(tmp_path, runtime)
    original = (ROOT / "pyproject.toml").read_text()
    changed = (folder / "pyproject.toml").read_text()
    diff = [(a, b) for a, b in zip(original.splitlines(), changed.splitlines()) if a != b]
    assert len(diff) == 1 and floor in diff[0][1], diff
    assert (folder / "mitdeeplearning" / "__init__.py").is_file()


def test_a_runtime_without_header_is_refused(tmp_path):
    bad = tmp_path / "2026-01-01-0000000.txt"
    bad.write_text("numpy==2.0.2\n")
    with pytest.raises(replica.ReplicaError, match="source"):
        replica.Runtime(bad)


def _message(kind, **content):
    return {"msg_type": kind, "content": content}


def test_live_notebook_probes_judge_what_the_kernel_sent():
    widget = [_message("display_data", data={"text/plain": "probe", "application/vnd.jupyter.widget-view+json": {}})]
    todo = [_message("display_data", data={"application/javascript": "…"}),
            _message("error", ename="NotImplementedError", evalue="TODO 1: probe", traceback=[])]
    assert replica._live_notebook_problems(widget, todo) == []
    text_bar = [_message("stream", name="stderr", text="probe: 100%|██████████| 3/3\n")]
    assert "failed" in replica._live_notebook_problems(text_bar, todo)[0]
    assert "no widget" in replica._live_notebook_problems([_message("display_data", data={"text/plain": "x"})], todo)[0]
    error_only = todo[1:]
    assert "scrolls it into view" in replica._live_notebook_problems(widget, error_only)[0]
    assert "scrolls it into view" in replica._live_notebook_problems(widget, todo[::-1])[0]
