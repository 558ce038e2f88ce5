"""The lab 3 solution notebook as a whole: the seed covers the run, and the run leaves nothing behind."""

import pathlib
import tempfile

from mdl_tools import notebooks, runner

ROOT = notebooks.find_root(__file__)
RL = "lab3/solutions/RL_Solution.ipynb"
TIMED = ("cartpole_seconds", "pong_seconds", "pong_env_steps_per_s")


def test_same_seed_same_result(smoke_run, tmp_path):
    first = smoke_run(RL)
    assert first.status == "ok", first.error
    second = runner.run_notebook(ROOT / RL, "smoke", tmp_path, ROOT, cell_timeout=600)
    assert second.status == "ok", second.error
    untimed = lambda result: {k: v for k, v in result.result.items() if k not in TIMED}  # noqa: E731
    assert untimed(first) and untimed(first) == untimed(second)
    assert first.result["pong_agent_steps"] > 0


def test_a_run_writes_beside_the_notebook_not_in_tmp(smoke_run):
    before = set(pathlib.Path(tempfile.gettempdir()).glob("lab3_*"))
    result = smoke_run(RL)
    assert result.status == "ok", result.error
    assert set(pathlib.Path(tempfile.gettempdir()).glob("lab3_*")) == before
    outputs = pathlib.Path(result.output).parent / "lab3_outputs"
    assert (outputs / "pong_record.csv").is_file() and list((outputs / "pong_checkpoints").glob("*.weights.h5"))
