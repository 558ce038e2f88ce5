"""Environments, memory, discounting, Pong pre-processing and the batched vector-env collector."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mitdeeplearning as mdl
from mitdeeplearning import rl


def child_pids():
    """Processes whose parent is this test process (env workers, ffmpeg, display servers)."""
    me, children = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                children.append(int(entry))
    return children


def thread_count():
    with open(f"/proc/{os.getpid()}/status") as fh:
        return int(next(line for line in fh if line.startswith("Threads:")).split()[1])


@pytest.fixture(scope="module")
def pong_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((80, 80, 1)), keras.layers.Conv2D(4, 8, strides=8, activation="relu"),
         keras.layers.Flatten(), keras.layers.Dense(6)]
    )


def test_lab3_facade_exports_rl_names():
    assert mdl.lab3.Memory is rl.Memory
    assert mdl.lab3.parallelized_collect_rollout is rl.parallelized_collect_rollout


def test_memory_and_aggregate():
    a, b = rl.Memory(), rl.Memory()
    for k in range(3):
        a.add_to_memory(np.full(4, k), k, 1.0)
    b.add_to_memory(np.full(4, 9), 1, -1.0)
    batch = rl.aggregate_memories([a, b])
    assert len(batch) == 4 and batch.actions == [0, 1, 2, 1] and batch.rewards == [1.0, 1.0, 1.0, -1.0]
    assert np.array_equal(batch.observations[3], np.full(4, 9))
    bad = rl.Memory()
    bad.observations.append(1)
    with pytest.raises(ValueError, match="add_to_memory must store all three"):
        rl.aggregate_memories([bad])


def test_normalize():
    x = rl.normalize([1.0, 2.0, 3.0])
    assert x.dtype == np.float32 and abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-5
    assert np.array_equal(rl.normalize([2.0, 2.0]), [0.0, 0.0])


def test_preprocess_pong_real_frames_and_batches():
    env = rl.make_env(rl.PONG_ENV_NAME, seed=0)
    try:
        frames = []
        frame, _ = env.reset()
        for _ in range(60):
            frame, *_ = env.step(env.action_space.sample())
            frames.append(frame)
    finally:
        env.close()
    x = rl.preprocess_frame(frames[-1])
    assert x.shape == (80, 80, 1) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0} and 5 < x.sum() < 400  # paddles and ball, no background
    batch = rl.preprocess_frame(np.stack(frames))
    assert batch.shape == (60, 80, 80, 1) and np.array_equal(batch[-1], x)
    assert rl.preprocess_frame(np.stack(frames)[:, None]).shape == (60, 80, 80, 1)  # ale vector env layout
    d = rl.frame_change(frames[-2], frames[-1])
    assert set(np.unique(d)) <= {-1.0, 0.0, 1.0} and np.array_equal(d, x - rl.preprocess_frame(frames[-2]))
    # the 2021 package's names keep their meaning: 40x40 float64, previous minus current
    old = rl.preprocess_pong(image=frames[-1])
    assert old.shape == (40, 40, 1) and old.dtype == np.float64 and set(np.unique(old)) <= {0.0, 1.0}
    assert old.sum() > 0
    change = rl.pong_change(frames[-2], frames[-1])
    assert change.shape == (40, 40, 1) and change.dtype == np.float64
    assert np.array_equal(change, rl.preprocess_pong(frames[-2]) - old)
    with pytest.raises(ValueError, match="210, 160, 3"):
        rl.preprocess_frame(np.zeros((80, 80, 1)))


def test_make_env_errors_name_the_problem():
    with pytest.raises(ValueError, match="could not create environment"):
        rl.make_env("NoSuchEnv-v9")
    with pytest.raises(ValueError, match="unknown backend"):
        rl.make_pong_envs(2, backend="threads")


@pytest.mark.parametrize("backend", ["ale", "sync"])
def test_parallelized_collect_rollout(pong_model, backend):
    calls = []

    def choose_action(model, observation, single=True):
        calls.append(np.shape(observation))
        return rl._sample_actions(model, observation, single=single)

    threads_before = thread_count()
    envs = rl.make_pong_envs(3, backend=backend, seed=0)
    try:
        memories = rl.parallelized_collect_rollout(3, envs, pong_model, choose_action, max_steps=25)
    finally:
        envs.close()
    assert len(memories) == 3 and all(len(m) == 25 for m in memories)
    # ONE batched policy call per step, for all environments at once
    assert len(calls) == 25 and all(shape == (3, 80, 80, 1) for shape in calls)
    obs = np.stack(memories[0].observations)
    assert obs.shape == (25, 80, 80, 1) and obs.dtype == np.float32 and set(np.unique(obs)) <= {-1.0, 0.0, 1.0}
    assert all(0 <= a < 6 for m in memories for a in m.actions)
    assert child_pids() == []
    assert thread_count() <= threads_before + 2  # the emulator threads ended with close()


def test_rollout_plays_whole_episodes_and_stops_recording_finished_games(pong_model):
    # a short episode limit makes every game end by truncation after 50 steps
    envs = rl.make_pong_envs(2, backend="sync", seed=1, max_episode_steps=50)
    try:
        memories = rl.parallelized_collect_rollout(2, envs, pong_model)
    finally:
        envs.close()
    assert [len(m) for m in memories] == [50, 50]


def test_async_backend_leaves_no_worker(pong_model):
    envs = rl.make_pong_envs(2, backend="async", seed=0)
    try:
        assert len(child_pids()) == 2
        memories = rl.parallelized_collect_rollout(2, envs, pong_model, max_steps=5)
    finally:
        envs.close()
    assert [len(m) for m in memories] == [5, 5]
    assert child_pids() == []


def test_rollout_rejects_list_of_envs_and_wrong_batch(pong_model):
    with pytest.raises(TypeError, match="make_pong_envs"):
        rl.parallelized_collect_rollout(2, [None, None], pong_model)
    envs = rl.make_pong_envs(2, backend="sync")
    try:
        with pytest.raises(ValueError, match="batch_size is 3"):
            rl.parallelized_collect_rollout(3, envs, pong_model)
        with pytest.raises(ValueError, match="one action per observation"):
            rl.parallelized_collect_rollout(2, envs, pong_model, lambda m, o, single=True: [0], max_steps=2)
    finally:
        envs.close()


def test_per_step_baseline_collector(pong_model):
    envs = [rl.make_env(rl.PONG_ENV_NAME, seed=s) for s in range(2)]
    try:
        memories = rl.collect_rollout_per_step(envs, pong_model, max_steps=3)
    finally:
        for env in envs:
            env.close()
    assert [len(m) for m in memories] == [3, 3]


def test_compiled_policy_matches_model(pong_model):
    policy = rl.CompiledPolicy(pong_model)
    x = np.random.default_rng(0).integers(-1, 2, size=(4, 80, 80, 1)).astype(np.float32)
    np.testing.assert_allclose(policy.predict(x), pong_model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert policy.output_shape == pong_model.output_shape


def test_checkpoints_save_and_resume_from_latest(tmp_path, pong_model):
    import keras

    assert rl.latest_checkpoint(tmp_path / "none") == (None, 0)
    for iteration in (2, 10, 4):
        pong_model.save_weights(rl.checkpoint_path(tmp_path, iteration))
    (tmp_path / "pong_000099.weights.h5.tmp").write_text("not a checkpoint")
    path, iteration = rl.latest_checkpoint(tmp_path)
    assert iteration == 10 and path.name == "pong_000000010.weights.h5"
    fresh = keras.models.clone_model(pong_model)
    fresh.load_weights(path)
    x = np.ones((1, 80, 80, 1), np.float32)
    np.testing.assert_allclose(fresh(x).numpy(), pong_model(x).numpy(), rtol=1e-6)


def test_numpy_policy_matches_model_and_refreshes():
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
    policy = rl.NumpyPolicy(model)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(policy(x), model(x).numpy(), rtol=1e-5, atol=1e-5)
    model.layers[-1].bias.assign(tf.constant([3.0, -3.0]))  # weights change, e.g. by training
    assert not np.allclose(policy(x), model(x).numpy())  # a snapshot until refreshed
    np.testing.assert_allclose(policy.refresh().predict(x), model(x).numpy(), rtol=1e-5, atol=1e-5)
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="CompiledPolicy"):
        rl.NumpyPolicy(cnn)


# ---------------------------------------------------------------------------- 2020/21 call forms
def test_2021_list_of_envs_gets_the_2021_observations():
    import keras

    model = keras.Sequential([keras.Input((40, 40, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    calls = []

    def choose_action(model, observation, single=True):  # as the 2021 notebook calls it
        calls.append(np.shape(observation))
        return rl._sample_actions(model, observation, single=single)

    envs = [rl.make_env(rl.PONG_ENV_NAME, seed=s) for s in range(2)]
    try:
        memories = rl.parallelized_collect_rollout(2, envs, model, choose_action, max_steps=30)
    finally:
        for env in envs:
            env.close()
    assert len(memories) == 2 and all(len(m) == 30 for m in memories)
    assert set(calls) == {(2, 40, 40, 1)}
    obs = np.stack(memories[0].observations)
    assert obs.shape == (30, 40, 40, 1) and obs.dtype == np.float64 and set(np.unique(obs)) <= {-1.0, 0.0, 1.0}


def test_2020_video_keywords_and_old_env_ids(tmp_path, capsys):
    import keras

    model = keras.Sequential([keras.Input((40, 40, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    seen = []

    def pp(frame):  # a 2020-style pre-processing function, recorded
        seen.append(frame.shape)
        return rl.preprocess_pong(frame)

    path = mdl.lab3.save_video_of_model(model, "Pong-v0", obs_diff=True, pp_fn=pp,
                                        filename=str(tmp_path / "old.mp4"), num_frames=12)
    assert "'Pong-v0' is no longer available; using 'ALE/Pong-v5'" in capsys.readouterr().out
    assert mdl.lab3.count_frames(path) >= 12 and seen and set(seen) == {(210, 160, 3)}
    env = rl.make_env("CartPole-v0")
    try:
        assert env.spec.id == "CartPole-v1"
    finally:
        env.close()
    assert "using 'CartPole-v1'" in capsys.readouterr().out


def test_2021_video_of_a_40x40_model_and_play_video_without_width(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((40, 40, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    path = mdl.lab3.save_video_of_model(model, "ALE/Pong-v5", filename=str(tmp_path / "v.mp4"), num_frames=8)
    html = mdl.lab3.play_video(path, width=None).data
    assert html.startswith("<video controls") and "base64," in html
    assert 'width="480"' in mdl.lab3.play_video(path).data
