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


def test_reference_cells_only_define_and_the_configs_carry_the_knobs():
    """Lab 3's reference cells hold imports, definitions and constants (and the one TensorFlow thread
    setting, which must precede TensorFlow's first operation); the configs are built from the knobs."""
    import ast

    import nbformat

    from mdl_tools import notebook_code

    nb = nbformat.read(ROOT / RL, as_version=4)
    defining = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    others = []
    for index, cell in notebook_code.reference_cells(nb):
        for node in ast.parse(cell.source).body:
            if isinstance(node, defining) or "set_intra_op_parallelism_threads" in ast.unparse(node):
                continue
            others.append(f"cell {index}, line {node.lineno}: {ast.unparse(node)[:80]}")
    assert not others, "reference cells must only define; move these to the untagged cell after them:\n" + "\n".join(others)

    lab = notebook_code.load(ROOT / RL, parameters={"seed": 7, "pong_num_games": 3, "cartpole_gamma": 0.9})
    assert (lab.pong_config.num_games, lab.pong_config.seed) == (3, 7)
    assert (lab.cartpole_config.gamma, lab.cartpole_config.seed) == (0.9, 7)
    for function in ("run_cartpole", "run_pong", "train_cartpole", "train_pong", "choose_action", "create_pong_model"):
        assert callable(getattr(lab, function)), function
