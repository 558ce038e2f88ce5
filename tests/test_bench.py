"""`mitdeeplearning bench` (mdl_tools.bench): the quick run end to end, the report, and failures that must be loud."""

import json
import math

import matplotlib.image
import nbformat
import pytest

from mitdeeplearning.util import RESULT_MIME
from mdl_tools import bench
from mdl_tools.bench import common


def _numbers(obj):
    """Every number in a nested JSON value."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return []
    if isinstance(obj, (int, float)):
        return [obj]
    values = obj.values() if isinstance(obj, dict) else obj
    return [n for v in values for n in _numbers(v)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, smoke_run):
    """One `bench --quick` into a temporary folder.

    The two notebooks it quotes come from this test run's smoke runs (tests/test_notebooks.py runs
    them anyway); everything else — benchmarks in subprocesses, parsing, figures, the report — is
    the real code.
    """
    out = tmp_path_factory.mktemp("bench")
    seen = []

    def notebook_from_smoke_run(relpath, profile, work_dir, log=print):
        seen.append((relpath, profile))
        assert profile == "smoke", "a quick bench must run notebooks in their smoke profile"
        result = smoke_run(relpath)
        assert result.status == "ok", result.error
        return result, nbformat.read(result.output, as_version=4)

    patch = pytest.MonkeyPatch()
    patch.setattr(common, "run_notebook", notebook_from_smoke_run)
    lines = []
    try:
        report = bench.main(quick=True, out=out, log=lambda *a, **k: lines.append(" ".join(map(str, a))))
    finally:
        patch.undo()
    return {"out": out, "report": report, "seen": seen, "log": "\n".join(lines),
            "data": json.loads((out / "benchmarks.json").read_text())}


def test_quick_run_measures_every_section(quick_run):
    data = quick_run["data"]
    assert data["quick"] is True
    assert set(data["sections"]) == set(bench.SECTIONS) - set(bench.ON_REQUEST)
    assert {nb for nb, _ in quick_run["seen"]} == {bench.SECTIONS["lab1"].NOTEBOOK, bench.SECTIONS["lab2"].NOTEBOOK}
    for name in ("lab1", "lab2", "lab3"):
        section = data["sections"][name]
        assert section["machine"]["cpu_count"] >= 1 and section["machine"]["date"]
        assert section["seconds"] > 0
        numbers = _numbers(section)
        assert numbers and all(math.isfinite(n) for n in numbers)
    lab1 = data["sections"]["lab1"]
    assert lab1["notebook"]["training_steps"] > 0 and lab1["notebook"]["final_loss"] > 0
    assert lab1["generation"]["generation"][0]["predict_ms_per_char"] > lab1["generation"]["generation"][0]["tf_function_ms_per_char"]
    lab2 = data["sections"]["lab2"]
    assert 0 < lab2["mnist"]["cnn"] <= 1 and lab2["mnist"]["train"] > 0
    assert {"cnn", "vae", "dbvae"} <= set(lab2["debias"]["models"])
    lab3 = data["sections"]["lab3"]
    assert lab3["rl"]["throughput"]["best"]["batched"] > lab3["rl"]["throughput"]["per_step_predict"] > 0
    assert lab3["rl"]["cartpole"]["seeds"][0]["episode_rewards"]


def test_quick_report_quotes_the_measured_numbers(quick_run):
    text = quick_run["report"].read_text()
    data = quick_run["data"]["sections"]
    assert quick_run["report"] == quick_run["out"] / "RESULTS.md"
    assert "Quick run" in text
    for heading in ("## Lab 1", "## Lab 2: MNIST", "## Lab 2: debiasing", "## Lab 3", "## Test suite"):
        assert heading in text
    assert f"({data['lab3']['rl']['throughput']['best']['batched']:,.0f} with" in text
    assert f"{100 * data['lab2']['mnist']['cnn']:.1f} %" in text
    assert f"{data['lab1']['notebook']['final_loss']:.3f}" in text
    for label in (m["label"] for m in data["lab2"]["debias"]["models"].values()):
        assert f"| {label} |" in text
    assert "2 CPU cores" in text or "CPU cores" in text


def test_quick_figures_are_pngs_and_linked(quick_run):
    text = quick_run["report"].read_text()
    figures = [f for s in quick_run["data"]["sections"].values() for f in s.get("figures", [])]
    assert len(figures) >= 5  # the piano roll may be missing in a smoke run: no tune plays yet
    for name in figures:
        image = matplotlib.image.imread(quick_run["out"] / "figures" / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0
        assert f"(figures/{name})" in text


def test_only_a_real_run_writes_the_committed_report(tmp_path):
    root = common.repository_root()
    assert bench.output_paths(quick=False) == (root / "results" / "benchmarks.json", root / "RESULTS.md", root / "docs" / "figures")
    quick = bench.output_paths(quick=True)
    assert all(p.is_relative_to(root / "results" / "quick") for p in quick)
    assert bench.output_paths(quick=False, out=tmp_path)[1] == tmp_path / "RESULTS.md"


def test_failing_benchmark_is_an_error_with_its_output(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def run(quick=False):\n    print('measuring…')\n    raise RuntimeError('the emulator is missing')\n")
    with pytest.raises(bench.BenchError, match="broken.py failed") as info:
        common.run_benchmark(script, quick=True, log=lambda *a, **k: None)
    assert "the emulator is missing" in str(info.value)


def test_missing_benchmark_and_unknown_section_are_errors(tmp_path):
    with pytest.raises(bench.BenchError, match="missing"):
        common.run_benchmark("no_such_benchmark.py", quick=True, log=lambda *a, **k: None)
    with pytest.raises(bench.BenchError, match="unknown section"):
        bench.main(quick=True, only=["lab4"], out=tmp_path)


def test_notebook_that_no_longer_records_its_numbers_is_an_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    with pytest.raises(bench.BenchError, match="recorded no result"):
        common.notebook_result(nb, ("playable",), "demo.ipynb")
    nb.cells[0].outputs.append(nbformat.v4.new_output(
        "display_data", data={RESULT_MIME: {"tunes": 3, "playable": 2}, "text/plain": "2/3 playable"}))
    assert common.notebook_result(nb, ("playable",), "demo.ipynb") == {"tunes": 3, "playable": 2}
    with pytest.raises(bench.BenchError, match="no metrically_sound .*has: tunes, playable"):
        common.notebook_result(nb, ("playable", "metrically_sound"), "demo.ipynb")
    with pytest.raises(bench.BenchError, match="no cell tagged"):
        common.save_figure_from_notebook(nb, "figure:loss_curve", None)
    nb.cells[0].metadata["tags"] = ["figure:loss_curve"]
    with pytest.raises(bench.BenchError, match="displayed no image"):
        common.save_figure_from_notebook(nb, "figure:loss_curve", None)


def test_extra_profile_gets_its_own_labelled_section(quick_run):
    data = dict(quick_run["data"])
    machine = data["sections"]["lab1"]["machine"]
    data["extra_profile"] = {"profile": "full", "machine": {**machine, "gpus": ["/physical_device:GPU:0"]},
                             "notebooks": [{"path": "lab3/solutions/RL_Solution.ipynb", "profile": "full",
                                            "seconds": 600.0, "headline": ["Pong: mean score -5.0"],
                                            "result": {"pong_score": -5.0}}]}
    text = bench.render(data, "figures")
    assert "## `full` profile" in text and "GPU:0" in text and "Pong: mean score -5.0" in text



def test_suite_line_quotes_the_recorded_run_time(tmp_path, monkeypatch):
    """The suite's own duration survives the dispatcher stamping the section with its (tiny) read time."""
    from mdl_tools.bench import suite

    record = tmp_path / "test_run.json"
    record.write_text(json.dumps({"date": "2026-11-28 02:11 UTC", "seconds": 476.2, "cpu_count": 2, "exit_status": 0,
                                  "passed": 421, "failed": 0, "skipped": 0, "error": 0}))
    monkeypatch.setattr(suite, "record_path", lambda: record)
    report = bench.main(quick=True, only=["tests"], out=tmp_path / "out", log=lambda *a, **k: None)
    text = report.read_text()
    assert "421 passed, 0 failed, 0 skipped in 476 s (7.9 min)." in text
    data = json.loads((tmp_path / "out" / "benchmarks.json").read_text())["sections"]["tests"]
    assert data["run"]["seconds"] == 476.2 and data["seconds"] < 476
