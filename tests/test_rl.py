"""Environments, memory, discounting, Pong pre-processing and the batched vector-env collector."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mitdeeplearning as mdl
from mitdeeplearning import rl, video
from mitdeeplearning.compat2021 import lab3 as old


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


def test_lab3_facade_exports_todays_names_and_the_wings():
    assert mdl.lab3.collect_rollout is rl.collect_rollout and mdl.lab3.Trajectory is rl.Trajectory
    assert mdl.lab3.save_video_of_agent is video.save_video_of_agent
    for name in old.__all__:
        assert getattr(mdl.lab3, name) is getattr(old, name), name


def test_todays_modules_carry_no_old_names():
    """The 2020/21 names and meanings live in the compatibility wing only."""
    for module in (rl, video):
        for name in old.__all__ + ["preprocess_pong", "collect_rollout_per_step", "aggregate_memories"]:
            assert not hasattr(module, name), f"{module.__name__}.{name}"
    import inspect

    assert "batch_size" not in inspect.signature(rl.collect_rollout).parameters
    assert "input_shape" not in inspect.getsource(video)


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
    # the 2021 package's names keep their meaning in the wing: 40x40 float64, previous minus current
    old_frame = old.preprocess_pong(image=frames[-1])
    assert old_frame.shape == (40, 40, 1) and old_frame.dtype == np.float64 and set(np.unique(old_frame)) <= {0.0, 1.0}
    assert old_frame.sum() > 0
    change = old.pong_change(frames[-2], frames[-1])
    assert change.shape == (40, 40, 1) and change.dtype == np.float64
    assert np.array_equal(change, old.preprocess_pong(frames[-2]) - old_frame)
    with pytest.raises(ValueError, match="210, 160, 3"):
        rl.preprocess_frame(np.zeros((80, 80, 1)))


def test_make_env_errors_name_the_problem():
    with pytest.raises(ValueError, match="could not create environment"):
        rl.make_env("NoSuchEnv-v9")
    with pytest.raises(ValueError, match="unknown backend"):
        rl.make_pong_envs(2, backend="threads")


@pytest.mark.parametrize("backend", ["ale", "sync"])
def test_collect_rollout(pong_model, backend):
    calls = []

    def choose_action(model, observation, single=True):
        calls.append(np.shape(observation))
        return rl._sample_actions(model, observation, single=single)

    threads_before = thread_count()
    envs = rl.make_pong_envs(3, backend=backend, seed=0)
    try:
        trajectories = rl.collect_rollout(envs, pong_model, choose_action, max_steps=25)
    finally:
        envs.close()
    assert len(trajectories) == 3 and all(isinstance(t, rl.Trajectory) and len(t) == 25 for t in trajectories)
    # ONE batched policy call per step, for all environments at once
    assert len(calls) == 25 and all(shape == (3, 80, 80, 1) for shape in calls)
    obs = np.stack(trajectories[0].observations)
    assert obs.shape == (25, 80, 80, 1) and obs.dtype == np.float32 and set(np.unique(obs)) <= {-1.0, 0.0, 1.0}
    assert all(0 <= a < 6 for t in trajectories for a in t.actions)
    assert all(len(t.rewards) == len(t.observations) == 25 for t in trajectories)
    assert child_pids() == []
    assert thread_count() <= threads_before + 2  # the emulator threads ended with close()


def test_rollout_plays_whole_episodes_and_stops_recording_finished_games(pong_model):
    # a short episode limit makes every game end by truncation after 50 steps
    envs = rl.make_pong_envs(2, backend="sync", seed=1, max_episode_steps=50)
    try:
        trajectories = rl.collect_rollout(envs, pong_model, rl._sample_actions)
    finally:
        envs.close()
    assert [len(t) for t in trajectories] == [50, 50]


def test_async_backend_leaves_no_worker(pong_model):
    envs = rl.make_pong_envs(2, backend="async", seed=0)
    try:
        assert len(child_pids()) == 2
        trajectories = rl.collect_rollout(envs, pong_model, rl._sample_actions, max_steps=5)
    finally:
        envs.close()
    assert [len(t) for t in trajectories] == [5, 5]
    assert child_pids() == []


def test_rollout_checks_the_actions(pong_model):
    envs = rl.make_pong_envs(2, backend="sync")
    try:
        with pytest.raises(ValueError, match="one action per observation"):
            rl.collect_rollout(envs, pong_model, lambda m, o, single=True: [0], max_steps=2)
        with pytest.raises(ValueError, match="must lie in 0..5"):
            rl.collect_rollout(envs, pong_model, lambda m, o, single=True: np.array([0, 6]), max_steps=2)
    finally:
        envs.close()


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
# mitdeeplearning.compat2021.lab3, re-exported by mdl.lab3 (docs/COMPATIBILITY.md, Lab 3)
def test_memory_and_aggregate():
    a, b = mdl.lab3.Memory(), mdl.lab3.Memory()
    for k in range(3):
        a.add_to_memory(np.full(4, k), k, 1.0)
    b.add_to_memory(np.full(4, 9), 1, -1.0)
    batch = mdl.lab3.aggregate_memories([a, b])
    assert len(batch) == 4 and batch.actions == [0, 1, 2, 1] and batch.rewards == [1.0, 1.0, 1.0, -1.0]
    assert np.array_equal(batch.observations[3], np.full(4, 9))
    bad = mdl.lab3.Memory()
    bad.observations.append(1)
    with pytest.raises(ValueError, match="add_to_memory must store all three"):
        mdl.lab3.aggregate_memories([bad])


def test_2021_rollout_of_a_vector_env_gives_memories_of_todays_observations(pong_model):
    envs = rl.make_pong_envs(2, backend="sync", seed=0)
    try:
        memories = mdl.lab3.parallelized_collect_rollout(2, envs, pong_model, max_steps=10)
        assert len(mdl.lab3.parallelized_collect_rollout(None, envs, pong_model, max_steps=3)[0]) == 3
    finally:
        envs.close()
    assert all(isinstance(m, mdl.lab3.Memory) and len(m) == 10 for m in memories)
    obs = np.stack(memories[0].observations)
    assert obs.shape == (10, 80, 80, 1) and obs.dtype == np.float32


def test_2021_rollout_refuses_what_it_cannot_play(pong_model):
    with pytest.raises(TypeError, match="make_pong_envs"):
        mdl.lab3.parallelized_collect_rollout(2, [None, None], pong_model)
    envs = rl.make_pong_envs(2, backend="sync")
    try:
        with pytest.raises(ValueError, match="batch_size is 3"):
            mdl.lab3.parallelized_collect_rollout(3, envs, pong_model)
    finally:
        envs.close()


def test_2021_list_of_envs_gets_the_2021_observations():
    import keras

    model = keras.Sequential([keras.Input((40, 40, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    calls = []

    def choose_action(model, observation, single=True):  # as the 2021 notebook calls it
        calls.append(np.shape(observation))
        return rl._sample_actions(model, observation, single=single)

    envs = [rl.make_env(rl.PONG_ENV_NAME, seed=s) for s in range(2)]
    try:
        memories = mdl.lab3.parallelized_collect_rollout(2, envs, model, choose_action, max_steps=30)
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
        return mdl.lab3.preprocess_pong(frame)

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


def test_2021_video_file_name_from_the_suffix(tmp_path, monkeypatch):
    import keras

    monkeypatch.chdir(tmp_path)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert mdl.lab3.save_video_of_model(model, "CartPole-v1", suffix="_0", num_frames=5) == "CartPole-v1_agent_0.mp4"
    assert (tmp_path / "CartPole-v1_agent_0.mp4").is_file()


def _play_plainly(num_games, seed, actions, steps):
    """What each game sees and gets when ``actions[k, i]`` is game i's k-th action, in one vector env stepped whole."""
    envs = rl.make_pong_envs(num_games, seed=seed)
    seen = {i: [] for i in range(num_games)}
    try:
        frames, _ = envs.reset(seed=seed)
        current = rl.preprocess_frame(frames)
        previous, starting = current.copy(), np.zeros(num_games, dtype=bool)
        for _ in range(steps):
            observations = current - previous
            taken = np.array([actions[len(seen[i]), i] for i in range(num_games)])
            frames, rewards, terminated, truncated, _ = envs.step(taken)
            for i in np.flatnonzero(~starting):
                seen[i].append((int(taken[i]), float(rewards[i]), bool(terminated[i] or truncated[i]),
                                observations[i].tobytes()))
            previous, current = current, rl.preprocess_frame(frames)
            previous[starting] = current[starting]
            starting = terminated | truncated
    finally:
        envs.close()
    return seen


def test_pong_games_play_the_games_of_one_vector_env_in_two_halves():
    """Same seed, same actions: the halves see, get and end exactly what one vector env stepped whole does."""
    num_games, seed, steps = 4, 5, 1500
    actions = np.random.default_rng(0).integers(0, 6, (steps + 10, num_games))
    plain = _play_plainly(num_games, seed, actions, steps)
    seen = {i: [] for i in range(num_games)}
    asked = []
    threads_before = thread_count()
    games = rl.PongGames(num_games)
    try:
        halves = [[0, 1], [2, 3]]

        def act(observations):
            half = halves[len(asked) % 2]
            asked.append(len(observations))
            return np.array([actions[len(seen[i]), i] for i in half])

        for step in games.play(act, seed=seed):
            assert isinstance(step, rl.PongStep) and set(step.games.tolist()) <= set(halves[(len(asked) - 2) % 2])
            for game, observation, action, reward, ended in step:
                seen[game].append((action, reward, ended, observation.tobytes()))
            if min(len(s) for s in seen.values()) >= steps - 10:
                break
    finally:
        games.close()
    assert set(asked) == {2}  # one policy call per half step
    assert sum(e for s in seen.values() for _, _, e, _ in s) >= num_games  # every game ended (and restarted) once
    for i in range(num_games):
        n = min(len(plain[i]), len(seen[i]))
        assert n >= steps - 10 and seen[i][:n] == plain[i][:n], f"game {i} differs"
    assert thread_count() <= threads_before + 2  # the emulator threads ended with close()


def test_pong_games_check_the_actions_and_one_game_plays_alone():
    games = rl.PongGames(2)
    try:
        with pytest.raises(ValueError, match="one action per game"):
            next(games.play(lambda observations: np.zeros(3, np.int64), seed=0))
        with pytest.raises(ValueError, match="must lie in 0..5"):
            next(games.play(lambda observations: np.full(len(observations), 6), seed=0))
    finally:
        games.close()
    with pytest.raises(ValueError, match="at least 1"):
        rl.PongGames(0)
    games = rl.PongGames(1)
    try:
        steps = [step for step, _ in zip(games.play(lambda o: np.zeros(len(o), np.int64), seed=0), range(5))]
    finally:
        games.close()
    assert [step.games.tolist() for step in steps] == [[0]] * 5


def test_background_updates_play_one_update_behind_and_raise_the_updates_errors():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    start = [w.copy() for w in model.get_weights()]

    def update(shift):
        for variable in model.trainable_variables:
            variable.assign_add(np.full(variable.shape, shift, np.float32))
        return shift * 10

    learner = rl.BackgroundUpdates(model, update)
    try:
        assert np.isnan(learner.submit(shift=1.0))  # nothing finished before the first update
        assert all(np.array_equal(a, w) for a, w in zip(start, learner.actor.get_weights()))  # the games' weights wait
        assert learner.submit(shift=2.0) == 10.0  # the first update's loss; its weights now play
        assert all(np.allclose(a + 1, w) for a, w in zip(start, learner.actor.get_weights()))
        assert learner.finish() == 20.0
        assert all(np.allclose(a + 3, w) for a, w in zip(start, learner.actor.get_weights()))
        assert learner.finish() == 20.0  # nothing left running: still the last finished update's loss
    finally:
        learner.close()

    def broken(**batch):
        raise RuntimeError("the update failed")

    learner = rl.BackgroundUpdates(model, broken)
    learner.submit(x=1)
    with pytest.raises(RuntimeError, match="the update failed"):
        learner.submit(x=2)
    learner.close()


@pytest.mark.parametrize("batch", [1, 2, 5, 64])
def test_split_batch_gives_the_models_outputs_and_gradient_on_any_batch_size(batch):
    """The halves are independent branches, but the model, its loss and its gradient are unchanged;
    an odd batch splits unevenly and a batch of one leaves one half empty."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    split = rl.SplitBatch(model)
    x = tf.constant(np.random.default_rng(1).normal(size=(batch, 6, 6, 1)).astype(np.float32))
    assert all(a is b for a, b in zip(split.trainable_variables, model.trainable_variables))  # the model's own

    @tf.function
    def loss_and_grads(m):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(m(x, training=True)))
        return m(x), loss, tape.gradient(loss, model.trainable_variables)

    out, loss, grads = loss_and_grads(model)
    split_out, split_loss, split_grads = loss_and_grads(split)
    np.testing.assert_allclose(split_out.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(split_loss.numpy(), loss.numpy(), rtol=1e-5)
    for a, b in zip(split_grads, grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_split_batch_runs_each_part_and_rejects_no_parts():
    calls = []

    def model(x, training=False):
        calls.append(int(x.shape[0]))
        return x * 2

    out = rl.SplitBatch(model, parts=3)(np.arange(7, dtype=np.float32).reshape(7, 1))
    np.testing.assert_array_equal(out.numpy().ravel(), np.arange(7) * 2)
    assert calls == [2, 2, 3]
    with pytest.raises(ValueError, match="parts must be at least 1"):
        rl.SplitBatch(model, parts=0)
