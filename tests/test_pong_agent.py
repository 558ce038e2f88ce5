"""The lab 3 notebook's Pong training code, the shipped agent and its evaluation.

The code under test is the solution notebook's own (its ``reference`` cells, loaded by
mdl_tools.notebook_code), so these tests fail when the notebook's code breaks.
"""

import dataclasses
import functools
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


def _logits_and_batch():
    import tensorflow as tf

    logits = tf.constant([[2.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 6, [0.5, -1.0, 0.0, 1.0, 0.0, 0.2]])
    actions = tf.constant([0, 3, 5])
    advantages = tf.constant([1.0, -1.0, 0.5])
    return logits, actions, advantages


def _log_probs(logits, actions):
    import tensorflow as tf

    return -tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)


def test_pong_loss_at_ratio_one_has_part_1s_gradient_plus_the_entropy_bonus(lab):
    import tensorflow as tf

    logits, actions, advantages = _logits_and_batch()
    old = _log_probs(logits, actions)  # the policy before the update: ratio 1
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ppo = lab.pong_loss(logits, actions, (advantages, old), 0.1, 0.0)
        part1 = lab.compute_loss(logits, actions, advantages)
        with_bonus = lab.pong_loss(logits, actions, (advantages, old), 0.1, 0.05)
    np.testing.assert_allclose(tape.gradient(ppo, logits), tape.gradient(part1, logits), rtol=1e-5, atol=1e-7)
    p = tf.nn.softmax(logits)
    entropy = -tf.reduce_sum(p * tf.math.log(p), axis=-1)
    np.testing.assert_allclose(float(with_bonus), float(ppo) - 0.05 * float(tf.reduce_mean(entropy)), rtol=1e-6)
    np.testing.assert_allclose(float(ppo), -float(tf.reduce_mean(advantages)), rtol=1e-6)  # -mean(A * 1)


def test_pong_loss_clips_the_gain_of_moving_an_action_further(lab):
    import tensorflow as tf

    logits, actions, advantages = _logits_and_batch()
    now = _log_probs(logits, actions)
    # before the update every action was 1.5x less likely: ratio 1.5, beyond 1 + clip
    old = now - np.log(1.5)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = lab.pong_loss(logits, actions, (advantages, old), 0.2, 0.0)
    grad = tape.gradient(loss, logits).numpy()
    # positive advantages (rows 0 and 2) have gained enough: no more push; the negative one (row 1)
    # is still pulled back, at the full ratio
    np.testing.assert_array_equal(grad[[0, 2]], 0.0)
    assert np.abs(grad[1]).max() > 0
    expected = -np.mean([1.2 * 1.0, 1.5 * -1.0, 1.2 * 0.5])  # min(r A, clip(r) A) per step
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_one_pass_one_minibatch_is_part_1s_reinforce_step(lab):
    """The full profile's knobs (1 pass, 1 minibatch): update_policy moves the weights exactly as
    Part 1's train_step with the loss the shipped agent trained with."""

    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    observations = rng.integers(-1, 2, size=(64, 80, 80, 1)).astype(np.float32)
    actions = rng.integers(0, 6, size=64).astype(np.int32)
    advantages = mdl.lab3.normalize(rng.normal(size=64).astype(np.float32))
    config = dataclasses.replace(lab.pong_config, update_epochs=1, minibatches=1)

    def reinforce_loss(logits, actions, rewards):
        p = tf.nn.softmax(logits)
        entropy = -tf.reduce_sum(p * tf.nn.log_softmax(logits), axis=-1)
        return lab.compute_loss(logits, actions, rewards) - config.entropy_bonus * tf.reduce_mean(entropy)

    steps = []  # the change of every weight; plain SGD, whose step is the gradient itself (Adam's
    for update in ("ppo", "reinforce"):  # first step is about lr * sign(gradient), blind to small differences)
        keras.utils.set_random_seed(0)
        model = lab.create_pong_model(6)
        before = [w.numpy() for w in model.weights]
        optimizer = keras.optimizers.SGD(1.0)
        optimizer.build(model.trainable_variables)  # as run_pong does: train_step is compiled
        if update == "ppo":
            loss_function = functools.partial(lab.pong_loss, clip=config.clip, entropy_bonus=config.entropy_bonus)
            lab.update_policy(model, loss_function, optimizer, config, np.random.default_rng(0), observations, actions,
                              advantages)
        else:
            lab.train_step(model, reinforce_loss, optimizer, observations, actions, advantages)
        steps.append([w.numpy() - b for w, b in zip(model.weights, before)])
    assert max(np.abs(s).max() for s in steps[0]) > 1e-3  # the update moved the weights
    for ppo, reinforce in zip(*steps):
        np.testing.assert_allclose(ppo, reinforce, rtol=1e-4, atol=1e-7)


def test_update_policy_takes_epochs_times_minibatches_steps(lab):
    import keras

    rng = np.random.default_rng(1)
    observations = rng.integers(-1, 2, size=(50, 80, 80, 1)).astype(np.float32)
    actions = rng.integers(0, 6, size=50).astype(np.int32)
    advantages = mdl.lab3.normalize(rng.normal(size=50).astype(np.float32))
    config = dataclasses.replace(lab.pong_config, update_epochs=3, minibatches=4)
    model = lab.create_pong_model(6)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    loss_function = functools.partial(lab.pong_loss, clip=0.1, entropy_bonus=0.01)
    loss = lab.update_policy(model, loss_function, optimizer, config, np.random.default_rng(0), observations, actions,
                             advantages)
    assert int(optimizer.iterations.numpy()) == 12
    assert np.isfinite(float(loss))

