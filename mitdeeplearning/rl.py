"""Reinforcement-learning helpers for lab 3: environments, memory, discounting, rollouts.

Everything here runs on today's RL stack: gymnasium >= 1.0 (5-tuple ``step``, ``reset(seed=...)``)
and ale-py, whose wheel ships the Pong ROM. Nothing needs a display server.

Pong settings (``PONG_SETTINGS``): ``frameskip=4`` and ``repeat_action_probability=0.25`` are the
``ALE/Pong-v5`` defaults, the protocol of Machado et al. (2018): the agent picks an action every 4th
frame (a quarter of the policy calls for the same game time, and the ball moves far enough between
two decisions to show up in a frame difference), and "sticky" actions repeat the previous action a
quarter of the time, so the agent cannot memorise one deterministic sequence of moves.
"""

import os

import numpy as np

__all__ = [
    "PONG_ENV_NAME",
    "PONG_SETTINGS",
    "Memory",
    "aggregate_memories",
    "discount_rewards",
    "discount_rewards_pong",
    "normalize",
    "preprocess_pong",
    "pong_change",
    "make_env",
    "make_pong_envs",
    "CompiledPolicy",
    "NumpyPolicy",
    "sample_actions",
    "parallelized_collect_rollout",
    "collect_rollout_per_step",
    "checkpoint_path",
    "latest_checkpoint",
]

PONG_ENV_NAME = "ALE/Pong-v5"
PONG_SETTINGS = {"frameskip": 4, "repeat_action_probability": 0.25}
# The two background colours of Pong (value of the red channel), erased by preprocess_pong.
PONG_BACKGROUND = (144, 109)
# Rows 34..193 hold the playing field; above is the score, below the bottom wall.
PONG_CROP_ROWS = slice(34, 194)


# --------------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------------
def _headless_sdl():
    # gymnasium's classic-control renderer uses pygame (SDL). Drawing into an off-screen surface
    # needs no display or sound card; tell SDL so, instead of letting it probe for one.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def _register_ale():
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)


def make_env(name, seed=None, render_mode=None, **kwargs):
    """Create one gymnasium environment by id (``"CartPole-v1"``, ``"ALE/Pong-v5"``, ...).

    ALE ids get ale-py registered first and Pong gets ``PONG_SETTINGS`` unless overridden. With
    ``seed`` the environment is reset once with it, so later ``reset()`` calls are reproducible.
    ``render_mode="rgb_array"`` makes ``env.render()`` return an (H, W, 3) uint8 frame, headless.
    """
    import gymnasium as gym

    if name.startswith("ALE/"):
        _register_ale()
        if "Pong" in name:
            kwargs = {**PONG_SETTINGS, **kwargs}
    if render_mode is not None:
        _headless_sdl()
    try:
        env = gym.make(name, render_mode=render_mode, **kwargs)
    except gym.error.Error as exc:
        raise ValueError(
            f"could not create environment {name!r}: {exc}. Use a gymnasium id such as "
            f"'CartPole-v1' or 'ALE/Pong-v5' (gymnasium >= 1.0 and ale-py must be installed)."
        ) from exc
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def make_pong_envs(num_envs, backend="ale", seed=None, num_threads=2, **settings):
    """A gymnasium vector environment of ``num_envs`` Pong games stepped together.

    backend:
      ``"ale"``   ale-py's native ``AtariVectorEnv``: C++ emulators stepped by ``num_threads``
                  threads, full 210x160 RGB frames (no resizing, no frame stacking), the same
                  frameskip and sticky actions as ``ALE/Pong-v5``. Fastest.
      ``"sync"``  ``gymnasium.vector.SyncVectorEnv`` of ``ALE/Pong-v5``: one process, in turn.
      ``"async"`` ``gymnasium.vector.AsyncVectorEnv``: one worker process per game.

    Observations have shape (num_envs, 210, 160, 3) for "sync"/"async" and
    (num_envs, 1, 210, 160, 3) for "ale"; ``preprocess_pong`` accepts both. Close the returned
    environment with ``envs.close()`` (in a ``finally:``) so that no thread or worker process is
    left running.
    """
    import gymnasium as gym

    if int(num_envs) < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    settings = {**PONG_SETTINGS, **settings}
    if backend == "ale":
        from ale_py.vector_env import AtariVectorEnv

        envs = AtariVectorEnv(
            "pong",
            int(num_envs),
            num_threads=int(num_threads),
            img_height=210,
            img_width=160,
            grayscale=False,
            stack_num=1,
            maxpool=False,
            noop_max=0,
            reward_clipping=False,
            use_fire_reset=False,
            episodic_life=False,
            frameskip=settings["frameskip"],
            repeat_action_probability=settings["repeat_action_probability"],
        )
    elif backend in ("sync", "async"):
        _register_ale()
        envs = gym.make_vec(PONG_ENV_NAME, num_envs=int(num_envs), vectorization_mode=backend, **settings)
    else:
        raise ValueError(f"unknown backend {backend!r}: use 'ale', 'sync' or 'async'")
    if seed is not None:
        envs.reset(seed=seed)
        envs.action_space.seed(seed)
    return envs


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------
class Memory:
    """What an agent saw, did and got during its episodes: three lists of equal length."""

    def __init__(self):
        self.clear()

    def clear(self):
        """Forget everything (start of a new episode)."""
        self.observations = []
        self.actions = []
        self.rewards = []

    def add_to_memory(self, new_observation, new_action, new_reward):
        """Store one time step: the observation the action was chosen on, the action, the reward."""
        self.observations.append(new_observation)
        self.actions.append(new_action)
        self.rewards.append(new_reward)

    def __len__(self):
        return len(self.actions)

    def __repr__(self):
        return f"Memory({len(self)} steps, total reward {float(np.sum(self.rewards)):.1f})"


def aggregate_memories(memories):
    """One Memory holding the steps of all ``memories``, one episode after another."""
    batch = Memory()
    for memory in memories:
        if not (len(memory.observations) == len(memory.actions) == len(memory.rewards)):
            raise ValueError(
                f"a memory holds {len(memory.observations)} observations, {len(memory.actions)} actions "
                f"and {len(memory.rewards)} rewards; add_to_memory must store all three each step"
            )
        batch.observations.extend(memory.observations)
        batch.actions.extend(memory.actions)
        batch.rewards.extend(memory.rewards)
    return batch


# --------------------------------------------------------------------------------------------
# Returns
# --------------------------------------------------------------------------------------------
def normalize(x):
    """Zero mean, unit standard deviation, float32 (a constant array becomes all zeros)."""
    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean()
    std = x.std()
    return x / std if std > 0 else x


def discount_rewards(rewards, gamma=0.95):
    """Discounted returns G_t = r_t + gamma * G_{t+1}, float32, NOT normalised."""
    rewards = np.asarray(rewards, dtype=np.float32).reshape(-1)
    returns = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def discount_rewards_pong(rewards, gamma=0.99):
    """Like ``discount_rewards``, but the running return restarts whenever a point is scored.

    In Pong a non-zero reward ends a rally; what happens in the next rally says nothing about the
    actions of this one, so the return does not carry across points.
    """
    rewards = np.asarray(rewards, dtype=np.float32).reshape(-1)
    returns = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        if rewards[t] != 0:
            running = 0.0
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


# --------------------------------------------------------------------------------------------
# Pong frames
# --------------------------------------------------------------------------------------------
def preprocess_pong(frame):
    """A Pong frame (210, 160, 3) uint8 -> (80, 80, 1) float32 of 0s and 1s.

    Crop the playing field (rows 34..193), keep every 2nd row and column, keep the red channel,
    erase the two background colours and set everything else (paddles, ball) to 1. Leading batch
    dimensions are kept: (N, 210, 160, 3) -> (N, 80, 80, 1); a singleton frame-stack axis as
    returned by ale-py's vector env, (N, 1, 210, 160, 3), is dropped.
    """
    frame = np.asarray(frame)
    if frame.ndim == 5 and frame.shape[1] == 1:
        frame = frame[:, 0]
    if frame.shape[-3:] != (210, 160, 3):
        raise ValueError(f"expected Pong frames of shape (..., 210, 160, 3), got {frame.shape}")
    red = frame[..., PONG_CROP_ROWS, ::2, 0][..., ::2, :]
    foreground = (red != PONG_BACKGROUND[0]) & (red != PONG_BACKGROUND[1]) & (red != 0)
    return foreground.astype(np.float32)[..., np.newaxis]


def pong_change(prev, curr):
    """Frame difference ``preprocess_pong(curr) - preprocess_pong(prev)``: (80, 80, 1) float32.

    Values are -1 (something left this pixel), 0 (no change) and +1 (something arrived), so one
    image shows where the ball and paddles are and which way they move.
    """
    return preprocess_pong(curr) - preprocess_pong(prev)


# --------------------------------------------------------------------------------------------
# Policies and rollouts
# --------------------------------------------------------------------------------------------
_NUMPY_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}


def _dense_stack(model):
    """The Dense layers of a Dense-only model with NumPy-friendly activations, else None."""
    import keras

    layers = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not isinstance(layer, keras.layers.Dense):
            return None
        name = getattr(layer.activation, "__name__", None)
        if name not in _NUMPY_ACTIVATIONS:
            return None
        layers.append((layer, _NUMPY_ACTIVATIONS[name]))
    return layers or None


class CompiledPolicy:
    """A Keras model behind one compiled ``tf.function``: one graph call per batch of observations.

    ``policy(x)`` and ``policy.predict(x)`` return the model's output (logits) for a batch; calling
    a Keras model eagerly costs milliseconds of Python overhead, a compiled graph a fraction of
    that. A ``choose_action(model, obs)`` written against a Keras model works unchanged when
    handed this object instead; anything else (``layers``, ``output_shape``...) is looked up on
    the model.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self._tf = tf
        self._fn = tf.function(lambda x: model(x, training=False))
        self._concrete = {}  # one graph per observation shape, any batch size

    def __call__(self, x, training=False):
        x = self._tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        key = tuple(x.shape[1:])
        concrete = self._concrete.get(key)
        if concrete is None:
            # calling the concrete function skips tf.function's argument matching: ~30% less
            # overhead per call, which matters when the model is called once per env step
            spec = self._tf.TensorSpec((None, *key), self._tf.float32)
            concrete = self._concrete[key] = self._fn.get_concrete_function(spec)
        return concrete(x)

    def predict(self, x, verbose=0, **kwargs):
        return np.asarray(self(x))

    def __getattr__(self, name):  # output_shape, layers, ... of the wrapped model
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


class NumpyPolicy(CompiledPolicy):
    """A Dense-only Keras model evaluated in NumPy on a snapshot of its weights.

    For a tiny MLP (the Cart-Pole policy) any TensorFlow call costs far more than the arithmetic:
    this evaluates the layers in NumPy (~20 us a step instead of ~0.4 ms). The snapshot is taken
    at creation and by ``refresh()``: call it after every training step, or the agent keeps
    acting with old weights.
    """

    def __init__(self, model):
        super().__init__(model)
        self._layers = _dense_stack(model)
        if self._layers is None:
            raise TypeError(
                "NumpyPolicy evaluates models made only of Dense layers with linear, relu, tanh or "
                "sigmoid activations; use CompiledPolicy(model) for any other model"
            )
        self.refresh()

    def refresh(self):
        """Copy the model's current weights (after a training step)."""
        self._weights = [
            (layer.kernel.numpy(), layer.bias.numpy() if layer.use_bias else None, activation)
            for layer, activation in self._layers
        ]
        return self

    def __call__(self, x, training=False):
        out = np.asarray(x, dtype=np.float32)
        for kernel, bias, activation in self._weights:
            out = out @ kernel
            if bias is not None:
                out = out + bias
            out = activation(out)
        return out


def sample_actions(model, observations, single=False):
    """Sample one action per observation from the model's logits (reference implementation).

    Samples with NumPy (seeded by ``np.random.seed`` / ``keras.utils.set_random_seed``) rather
    than an eager ``tf.random.categorical``: under a global TensorFlow seed, every eager call of an
    unseeded TF random op builds and caches a new kernel, so memory grows (~36 KB) and each call
    gets slower, step after step.
    """
    observations = np.asarray(observations, dtype=np.float32)
    if single:
        observations = observations[np.newaxis]
    logits = np.asarray(model(observations), dtype=np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(logits)
    cumulative = np.cumsum(probabilities / probabilities.sum(axis=-1, keepdims=True), axis=-1)
    draws = np.random.random_sample((len(cumulative), 1))
    actions = np.minimum((draws > cumulative).sum(axis=-1), cumulative.shape[-1] - 1)
    return int(actions[0]) if single else actions.astype(np.int64)


def _frames(observations):
    obs = np.asarray(observations)
    return obs[:, 0] if obs.ndim == 5 else obs


def parallelized_collect_rollout(batch_size, envs, model, choose_action=None, max_steps=None):
    """Play one Pong episode in each of ``batch_size`` environments at once; return their Memories.

    ``envs`` is a gymnasium vector environment with ``batch_size`` games (``make_pong_envs``).
    Every step makes ONE batched policy call for all games (``choose_action(model, x,
    single=False)`` on a compiled wrapper of ``model``), then steps all games together. An
    observation is the difference of the last two pre-processed frames, (80, 80, 1). A game that
    has finished stops being recorded while the others play on; ``max_steps`` caps the episode
    length (None: play until every game is over).

    Returns a list of ``batch_size`` Memory objects (observations, actions, rewards per step).
    """
    if isinstance(envs, (list, tuple)):
        raise TypeError(
            "parallelized_collect_rollout now takes ONE gymnasium vector environment, not a list of "
            "environments: create it with mdl.lab3.make_pong_envs(batch_size)"
        )
    num_envs = getattr(envs, "num_envs", None)
    if num_envs != batch_size:
        raise ValueError(f"batch_size is {batch_size} but the vector environment holds {num_envs} games")
    choose_action = choose_action or sample_actions
    policy = model if isinstance(model, CompiledPolicy) else CompiledPolicy(model)

    observations, _ = envs.reset()
    current = preprocess_pong(_frames(observations))
    previous = current
    memories = [Memory() for _ in range(batch_size)]
    done = np.zeros(batch_size, dtype=bool)
    steps = 0
    while not done.all() and (max_steps is None or steps < max_steps):
        x = current - previous
        actions = np.asarray(choose_action(policy, x, single=False)).reshape(-1).astype(np.int64)
        if actions.shape != (batch_size,):
            raise ValueError(
                f"choose_action(model, observations, single=False) returned {actions.size} actions for "
                f"{batch_size} observations; it must return one action per observation"
            )
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        for i in np.flatnonzero(~done):
            memories[i].add_to_memory(x[i], int(actions[i]), float(rewards[i]))
        done |= np.asarray(terminated) | np.asarray(truncated)
        previous, current = current, preprocess_pong(_frames(observations))
        steps += 1
    return memories


def collect_rollout_per_step(env_list, model, max_steps=None):
    """The old way, kept as a baseline: each env in turn, one ``model.predict`` per env per step.

    Returns a list of Memories like ``parallelized_collect_rollout``. Used by the benchmark to show
    what batching and compiling the policy call buys.
    """
    memories = [Memory() for _ in env_list]
    previous, current, done = [], [], []
    for env in env_list:
        frame, _ = env.reset()
        current.append(preprocess_pong(frame))
        previous.append(current[-1])
        done.append(False)
    steps = 0
    while not all(done) and (max_steps is None or steps < max_steps):
        for i, env in enumerate(env_list):
            if done[i]:
                continue
            x = current[i] - previous[i]
            logits = model.predict(x[np.newaxis], verbose=0)
            action = sample_actions(lambda _: logits, x, single=True)
            frame, reward, terminated, truncated, _ = env.step(action)
            memories[i].add_to_memory(x, action, float(reward))
            done[i] = terminated or truncated
            previous[i], current[i] = current[i], preprocess_pong(frame)
        steps += 1
    return memories


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
def checkpoint_path(directory, iteration, prefix="pong"):
    """``<directory>/<prefix>_<iteration, 6 digits>.weights.h5`` (Keras 3 needs that suffix).

    Creates ``directory`` if needed, so the path can be handed straight to ``model.save_weights``.
    """
    from pathlib import Path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{prefix}_{int(iteration):06d}.weights.h5"


def latest_checkpoint(directory, prefix="pong"):
    """``(path, iteration)`` of the newest checkpoint in ``directory``; ``(None, 0)`` when there is none."""
    import re
    from pathlib import Path

    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)\.weights\.h5$")
    found = []
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.iterdir():
            match = pattern.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
    if not found:
        return None, 0
    iteration, path = max(found)
    return path, iteration
