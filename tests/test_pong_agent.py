"""The lab 3 notebook's Pong training code, the shipped agent and its evaluation.

The code under test is the solution notebook's own (its ``reference`` cells, loaded by
mdl_tools.notebook_code), so these tests fail when the notebook's code breaks.
"""

import dataclasses
import pathlib

import numpy as np
import pytest

import mitdeeplearning as mdl
from mdl_tools import notebook_code
from test_rl import child_pids

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab3" / "solutions" / "RL_Solution.ipynb"


@pytest.fixture(scope="module")
def lab():
    return notebook_code.load(NOTEBOOK, parameters={"pong_num_games": 2, "pong_batch_steps": 256})


def test_shipped_weights_load_into_the_notebooks_architecture(lab):
    model = lab.create_pong_model(6)
    assert mdl.lab3.load_pretrained_pong(into=model) is model
    shipped = mdl.lab3.load_pretrained_pong()
    x = np.zeros((3, 80, 80, 1), np.float32)
    x[:, 40:44, 30:32] = 1.0
    np.testing.assert_allclose(model(x).numpy(), np.asarray(shipped(x)), rtol=1e-5, atol=1e-6)
    assert mdl.lab3.PRETRAINED_PONG.stat().st_size <= 2_000_000  # ships inside the wheel


def test_shipped_weights_refuse_another_architecture():
    import keras

    other = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Conv2D(16, 8, strides=2, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(6)])
    with pytest.raises(ValueError, match="do not match the shipped agent"):
        mdl.lab3.load_pretrained_pong(into=other)


def test_shipped_record_is_a_training_curve():
    rows = mdl.lab3.TrainingRecord(mdl.lab3.PRETRAINED_PONG_RECORD).rows()
    assert len(rows) > 10
    steps = [r["agent_steps"] for r in rows]
    seconds = [r["seconds"] for r in rows]
    assert steps == sorted(steps) and seconds == sorted(seconds) and steps[-1] > 100_000


def test_evaluate_pong_is_deterministic_and_beats_a_random_policy():
    import keras

    agent = mdl.lab3.load_pretrained_pong()
    first = mdl.lab3.evaluate_pong(agent, num_games=4, seed=3, max_steps=400)
    again = mdl.lab3.evaluate_pong(agent, num_games=4, seed=3, max_steps=400)
    assert first.dtype == np.int64 and first.shape == (4,)
    assert np.array_equal(first, again)
    # a policy with all-zero logits: every action equally likely
    uniform = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(6, kernel_initializer="zeros")])
    random_scores = mdl.lab3.evaluate_pong(uniform, num_games=4, seed=3, max_steps=400)
    assert first.mean() > random_scores.mean() + 3, (first, random_scores)
    greedy = mdl.lab3.evaluate_pong(agent, num_games=4, seed=3, max_steps=400, greedy=True)
    assert np.array_equal(greedy, mdl.lab3.evaluate_pong(agent, num_games=4, seed=3, max_steps=400, greedy=True))
    assert child_pids() == []


def test_evaluate_pong_rejects_a_model_with_the_wrong_number_of_actions():
    import keras

    seven = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Flatten(), keras.layers.Dense(7)])
    with pytest.raises(ValueError, match="must lie in 0..5"):
        for _ in range(50):  # argmax over 7 logits reaches action 6 quickly
            mdl.lab3.evaluate_pong(seven, num_games=2, seed=0, max_steps=20, greedy=False)


def test_run_pong_learns_resumes_and_continues_the_record(lab, tmp_path):
    """The notebook's run_pong, as its training cell and the benchmarks call it: a fresh run, then a resumed one."""
    config = dataclasses.replace(lab.pong_config, agent_steps=1200)
    lab.seed_everything(config.seed)
    before = [w.numpy().copy() for w in lab.create_pong_model(6).trainable_variables]  # run_pong's starting point
    model, record, finished = lab.run_pong(config, tmp_path)
    first = record.rows()
    assert record.path == tmp_path / "pong_record.csv"
    assert all(not np.allclose(a, w.numpy()) for a, w in zip(before, model.trainable_variables))
    path, steps = mdl.lab3.latest_checkpoint(tmp_path / "pong_checkpoints")
    assert steps == int(first[-1]["agent_steps"]) >= 1200
    assert child_pids() == []
    # resumed: the newest checkpoint's weights, and the record goes on from where it stopped
    _, record, _ = lab.run_pong(dataclasses.replace(config, agent_steps=2400, resume=True), tmp_path)
    rows = record.rows()
    assert [r["agent_steps"] for r in rows[: len(first)]] == [r["agent_steps"] for r in first]
    assert len(rows) > len(first)
    steps = [r["agent_steps"] for r in rows]
    seconds = [r["seconds"] for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and steps[-1] >= 2400
    assert seconds == sorted(seconds)
    assert mdl.lab3.latest_checkpoint(tmp_path / "pong_checkpoints")[1] == int(steps[-1])
    assert child_pids() == []


def test_on_update_can_stop_training_and_a_fresh_run_starts_a_fresh_record(lab, tmp_path):
    config = dataclasses.replace(lab.pong_config, agent_steps=100_000)
    seen = []
    _, record, _ = lab.run_pong(config, tmp_path, on_update=lambda steps, seconds, finished: seen.append(steps) or True)
    rows = record.rows()
    assert len(seen) == 1 and [r["agent_steps"] for r in rows] == seen and seen[0] < config.agent_steps
    assert mdl.lab3.latest_checkpoint(tmp_path / "pong_checkpoints")[1] == seen[0]
    _, record, _ = lab.run_pong(config, tmp_path, on_update=lambda *_: True)  # resume is off: a new record
    assert len(record.rows()) == 1
    assert child_pids() == []


def test_a_half_written_checkpoint_is_skipped_with_a_warning(lab, tmp_path):
    model = lab.create_pong_model(6)
    good = mdl.lab3.save_checkpoint(model, tmp_path, 100)
    broken = mdl.lab3.checkpoint_path(tmp_path, 200)
    broken.write_bytes(good.read_bytes()[:1000])  # what an interrupted save used to leave
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        path, steps = mdl.lab3.latest_checkpoint(tmp_path)
    assert (path, steps) == (good, 100)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_pong_loss_adds_an_entropy_bonus(lab):
    import tensorflow as tf

    logits = tf.constant([[2.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 6])
    actions = tf.constant([0, 3])
    rewards = tf.constant([1.0, -1.0])
    p = tf.nn.softmax(logits)
    entropy = -tf.reduce_sum(p * tf.math.log(p), axis=-1)
    expected = lab.compute_loss(logits, actions, rewards) - 0.05 * tf.reduce_mean(entropy)
    np.testing.assert_allclose(float(lab.pong_loss(logits, actions, rewards, 0.05)), float(expected), rtol=1e-6)
