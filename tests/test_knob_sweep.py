"""Every check is right at every setting a student may choose.

Each solution notebook runs in the smoke profile with the knobs of its parameters cell moved to
other valid values (the sets below, on top of the smoke overrides), and every check in it must
pass: the run ends without an error and prints one ✔ line per check call. Between them the sets
move every knob of every parameters cell (`test_every_knob_is_moved`). A check that judged the
student's code with a default of its own instead of the notebook's value would reject a correct
answer here; `test_a_knob_blind_check_fails_the_sweep` shows one that does.
"""

import ast
import re

import nbformat
import numpy as np
import pytest

from mdl_tools import notebook_code, notebooks, runner
from mitdeeplearning import lab2

ROOT = notebooks.find_root(__file__)
P1 = "lab1/solutions/Part1_TensorFlow_Solution.ipynb"
MUSIC = "lab1/solutions/Part2_Music_Generation_Solution.ipynb"
MNIST = "lab2/solutions/Part1_MNIST_Solution.ipynb"
DEBIAS = "lab2/solutions/Part2_Debiasing_Solution.ipynb"
RL = "lab3/solutions/RL_Solution.ipynb"

# Names written "<tmp>/..." become paths in the test's temporary folder.
SETS = {
    P1: [
        # a small learning rate: x is still 0.9 short of x_f after the steps, and the loop is right
        dict(seed=7, x_f=-2.5, learning_rate=0.003, sgd_steps=200),
        dict(seed=3, x_f=10.0, learning_rate=0.2, sgd_steps=60),
    ],
    MUSIC: [
        dict(data_source="<tmp>/tunes.abc", seed=3, embedding_dim=16, rnn_units=64, seq_length=50, batch_size=8,
             num_training_iterations=40, learning_rate=3e-3, final_learning_rate=1e-4, clip_norm=1.0,
             checkpoint_every=20, checkpoint_dir="<tmp>/checkpoints", temperature=1.2, num_streams=2,
             generation_length=200),
    ],
    MNIST: [
        dict(seed=4, mnist_source="auto", batch_size=32, fc_epochs=3, fc_learning_rate=0.05, cnn_epochs=3,
             cnn_learning_rate=1e-3, loop_steps=10, loop_learning_rate=0.05),
    ],
    DEBIAS: [
        dict(seed=2, cpu_threads=1, n_train_faces=200, n_train_nonfaces=200, n_test_per_group=8, darker_fraction=0.2, data_seed=1,
             batch_size=16, learning_rate=1e-3, train_steps=8, latent_dim=6, kl_weight=0.005, warmup_steps=3,
             resample_every=3, bins=6, smoothing=0.01, density_components=None, oracle_share=0.3, compile_steps=True),
    ],
    RL: [
        dict(seed=5, cartpole_hidden_units=16, cartpole_learning_rate=1e-2, cartpole_gamma=0.95,
             cartpole_max_episodes=10, cartpole_solved_mean=100, pong_num_games=3, pong_agent_steps=1000,
             pong_batch_steps=128, pong_update_epochs=2, pong_minibatches=3, pong_clip=0.2,
             pong_learning_rate=5e-4, pong_entropy_bonus=0.0, pong_gamma=0.95,
             pong_checkpoint_every=2, pong_eval_games=1, pong_eval_max_steps=100, video_frames=30),
        dict(pong_start_from_pretrained=True, pong_resume=True, output_dir="sweep_outputs"),
    ],
}

_CHECK_CALL = re.compile(r"\bmdl\.lab\d\.(?:check|test)_\w+\s*\(")


def _parameters_cell(relpath):
    nb = nbformat.read(ROOT / relpath, as_version=4)
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), nb


def _parameter_names(relpath):
    cell, _ = _parameters_cell(relpath)
    return {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets}


def _write_tunes(path):
    """A small ABC file of made-up tunes (random notes in a few keys and meters): another data source."""
    rng = np.random.default_rng(0)
    notes = list("DEFGABcdef")
    tunes = []
    for k in range(24):
        meter, key = [("4/4", "D"), ("6/8", "G"), ("3/4", "A")][k % 3]
        per_bar = {"4/4": 8, "6/8": 6, "3/4": 6}[meter]
        bars = ["".join(rng.choice(notes, per_bar)) for _ in range(8)]
        tunes.append(f"X:{k + 1}\nT:Sweep tune {k + 1}\nM:{meter}\nL:1/8\nK:{key}\n|" + "|".join(bars) + "|]\n")
    path.write_text("\n".join(tunes))


def _resolve(overrides, tmp_path):
    resolved = {}
    for name, value in overrides.items():
        if isinstance(value, str) and value.startswith("<tmp>/"):
            value = str(tmp_path / value[len("<tmp>/"):])
            if value.endswith(".abc"):
                _write_tunes(tmp_path / "tunes.abc")
        resolved[name] = value
    return resolved


def test_every_knob_is_moved():
    for relpath, sets in SETS.items():
        names = _parameter_names(relpath)
        moved = set().union(*(s.keys() for s in sets))
        assert moved <= names, f"{relpath}: the sets move {sorted(moved - names)}, which its parameters cell does not define"
        assert names <= moved, f"{relpath}: no set moves {sorted(names - moved)}; add it to a set"
        smoke = runner.profile_overrides(_parameters_cell(relpath)[1], "smoke")
        for overrides in sets:
            same = [n for n, v in overrides.items() if n in smoke and smoke[n] == v]
            assert not same, f"{relpath}: {same} keep their smoke value; move them"


CASES = [pytest.param(relpath, k, id=f"{relpath.split('/')[-1].removesuffix('_Solution.ipynb')}-set{k}")
         for relpath, sets in SETS.items() for k in range(len(sets))]


@pytest.mark.parametrize("relpath, k", CASES)
def test_checks_pass_with_knobs_moved(relpath, k, tmp_path):
    overrides = _resolve(SETS[relpath][k], tmp_path)
    result = runner.run_notebook(ROOT / relpath, "smoke", tmp_path / "runs", ROOT, cell_timeout=600,
                                 extra_parameters=overrides)
    assert result.status == "ok", f"{relpath} with {overrides}:\n{result.error}"
    executed = nbformat.read(result.output, as_version=4)
    calls = sum(len(_CHECK_CALL.findall(c.source)) for c in executed.cells if c.cell_type == "code")
    ticks = sum(1 for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if o.get("output_type") == "stream" and o.get("name") == "stdout"
                for line in o.get("text", "").splitlines() if line.startswith("✔"))
    assert calls > 0 and ticks == calls, f"{relpath} with {overrides}: {calls} check calls, {ticks} ✔ lines"


def _compiled_as_the_notebook_does(learning_rate):
    """A small model compiled as the MNIST notebook's TODO 4 answer compiles its CNN."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_knob_blind_check_fails_the_sweep():
    """A copy of check_compiled that keeps the learning rate at the notebook's default passes at the
    default knobs, and so in every catalogue run at them; at the sweep's learning rate it rejects
    the notebook's own compile call, so the sweep's run of the notebook fails with it."""
    check = lab2.check_compiled
    default = notebook_code.parameters(ROOT / MNIST)["cnn_learning_rate"]
    moved = SETS[MNIST][0]["cnn_learning_rate"]
    assert moved != default

    def knob_blind(model, optimizer, learning_rate):
        return check(model, optimizer, default)

    assert knob_blind(_compiled_as_the_notebook_does(default), "Adam", default) is None
    with pytest.raises(AssertionError, match=f"cnn_learning_rate = {default:g}"):
        knob_blind(_compiled_as_the_notebook_does(moved), "Adam", moved)
    assert check(_compiled_as_the_notebook_does(moved), "Adam", moved) is None
