"""Reinforcement-learning helpers for lab 3: environments, trajectories, frames, rollouts, checkpoints.

Everything here runs on today's RL stack: gymnasium >= 1.0 (5-tuple ``step``, ``reset(seed=...)``)
and ale-py, whose wheel ships the Pong ROM. Nothing needs a display server.

Pong settings (``PONG_SETTINGS``): ``frameskip=4`` and ``repeat_action_probability=0.25`` are the
``ALE/Pong-v5`` defaults, the protocol of Machado et al. (2018): the agent picks an action every 4th
frame (a quarter of the policy calls for the same game time, and the ball moves far enough between
two decisions to show up in a frame difference), and "sticky" actions repeat the previous action a
quarter of the time, so the agent cannot memorise one deterministic sequence of moves.

The names and meanings of the 2020/21 course package (``Memory``, ``pong_change`` at 40x40,
``parallelized_collect_rollout``, ...) live in :mod:`mitdeeplearning.compat2021.lab3`.
"""

import csv
import dataclasses
import os
import re
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "PONG_ENV_NAME",
    "PONG_SETTINGS",
    "Trajectory",
    "normalize",
    "preprocess_frame",
    "frame_change",
    "make_env",
    "make_pong_envs",
    "CompiledPolicy",
    "NumpyPolicy",
    "collect_rollout",
    "PongGames",
    "PongStep",
    "BackgroundUpdates",
    "SplitBatch",
    "checkpoint_path",
    "save_checkpoint",
    "latest_checkpoint",
    "TrainingRecord",
    "validate_actions",
    "evaluate_pong",
    "load_pretrained_pong",
    "PRETRAINED_PONG",
]

PONG_ENV_NAME = "ALE/Pong-v5"
PONG_SETTINGS = {"frameskip": 4, "repeat_action_probability": 0.25}
# The two background colours of Pong (value of the red channel), erased by preprocess_frame.
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


def _quiet_ale():
    # the emulator prints its banner ("A.L.E: Arcade Learning Environment ... [Powered by Stella]")
    # to stderr for every game it loads; errors are still reported
    import ale_py

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)


def _register_ale():
    import ale_py
    import gymnasium as gym

    _quiet_ale()
    gym.register_envs(ale_py)


# Environment ids that gymnasium >= 1.0 no longer registers, and their successors.
OLD_ENV_IDS = {"CartPole-v0": "CartPole-v1", "CartPole-v1": "CartPole-v1", "Pong-v0": "ALE/Pong-v5", "Pong-v4": "ALE/Pong-v5"}


def current_env_id(name):
    """Today's id for an environment id that older gym releases registered, with a one-line notice.

    Such ids are what the 2020/21 course notebooks pass (see :mod:`mitdeeplearning.compat2021.lab3`).
    """
    new = OLD_ENV_IDS.get(name, name)
    if new != name:
        print(f"note: {name!r} is no longer available; using {new!r} (gymnasium >= 1.0, ale-py)")
    return new


def make_env(name, seed=None, render_mode=None, **kwargs):
    """Create one gymnasium environment by id (``"CartPole-v1"``, ``"ALE/Pong-v5"``, ...).

    ALE ids get ale-py registered first and Pong gets ``PONG_SETTINGS`` unless overridden. With
    ``seed`` the environment is reset once with it, so later ``reset()`` calls are reproducible.
    ``render_mode="rgb_array"`` makes ``env.render()`` return an (H, W, 3) uint8 frame, headless.
    """
    import gymnasium as gym

    name = current_env_id(name)
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


def _ale_vector_env(num_games, num_threads, settings):
    """ale-py's native vector env of Pong with full RGB frames and the ``ALE/Pong-v5`` settings."""
    from ale_py.vector_env import AtariVectorEnv

    _quiet_ale()
    return AtariVectorEnv(
        "pong",
        num_games,
        num_threads=num_threads,
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


def make_pong_envs(num_games, backend="ale", seed=None, num_threads=2, **settings):
    """A gymnasium vector environment of ``num_games`` Pong games stepped together.

    backend:
      ``"ale"``   ale-py's native ``AtariVectorEnv``: C++ emulators stepped by ``num_threads``
                  threads, full 210x160 RGB frames (no resizing, no frame stacking), the same
                  frameskip and sticky actions as ``ALE/Pong-v5``. Fastest.
      ``"sync"``  ``gymnasium.vector.SyncVectorEnv`` of ``ALE/Pong-v5``: one process, in turn.
      ``"async"`` ``gymnasium.vector.AsyncVectorEnv``: one worker process per game.

    Observations have shape (num_games, 210, 160, 3) for "sync"/"async" and
    (num_games, 1, 210, 160, 3) for "ale"; ``preprocess_frame`` accepts both. Close the returned
    environment with ``envs.close()`` (in a ``finally:``) so that no thread or worker process is
    left running.
    """
    import gymnasium as gym

    if int(num_games) < 1:
        raise ValueError(f"num_games must be at least 1, got {num_games}")
    settings = {**PONG_SETTINGS, **settings}
    if backend == "ale":
        envs = _ale_vector_env(int(num_games), int(num_threads), settings)
    elif backend in ("sync", "async"):
        _register_ale()
        envs = gym.make_vec(PONG_ENV_NAME, num_envs=int(num_games), vectorization_mode=backend, **settings)
    else:
        raise ValueError(f"unknown backend {backend!r}: use 'ale', 'sync' or 'async'")
    envs = _ValidatedActions(envs)
    if seed is not None:
        envs.reset(seed=seed)
        envs.action_space.seed(seed)
    return envs


def _validated_actions_wrapper():
    import gymnasium as gym

    class ValidatedActions(gym.vector.VectorWrapper):
        """Checks every batch of actions (count, integer dtype, range) before the emulators see it.

        ale-py's native vector env can wait forever on an action outside its action set; this
        turns such a bug into an immediate ValueError that names it.
        """

        def step(self, actions):
            n_actions = int(self.env.single_action_space.n)
            return self.env.step(validate_actions(actions, self.num_envs, n_actions))

    return ValidatedActions


def _ValidatedActions(envs):
    return _validated_actions_wrapper()(envs)


# --------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(repr=False)
class Trajectory:
    """What one game saw, did and got, step by step: three lists of equal length.

    ``collect_rollout`` returns one per game; ``observations[t]`` is what the policy saw when it
    chose ``actions[t]``, and ``rewards[t]`` what that step earned.
    """

    observations: list = dataclasses.field(default_factory=list)
    actions: list = dataclasses.field(default_factory=list)
    rewards: list = dataclasses.field(default_factory=list)

    def __len__(self):
        return len(self.actions)

    def __repr__(self):
        return f"Trajectory({len(self)} steps, total reward {float(np.sum(self.rewards)):.1f})"


# --------------------------------------------------------------------------------------------
# Returns
# --------------------------------------------------------------------------------------------
def normalize(x):
    """Zero mean, unit standard deviation, float32 (a constant array becomes all zeros)."""
    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean()
    std = x.std()
    return x / std if std > 0 else x


# --------------------------------------------------------------------------------------------
# Pong frames
# --------------------------------------------------------------------------------------------
def preprocess_frame(frame):
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


def frame_change(prev, curr):
    """Frame difference ``preprocess_frame(curr) - preprocess_frame(prev)``: (80, 80, 1) float32.

    Values are -1 (something left this pixel), 0 (no change) and +1 (something arrived), so one
    image shows where the ball and paddles are and which way they move: the lab's observation.
    Works on batches of frames as ``preprocess_frame`` does.
    """
    return preprocess_frame(curr) - preprocess_frame(prev)


# --------------------------------------------------------------------------------------------
# Policies
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


def _sample_actions(model, observations, single=False):
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


def validate_actions(actions, num_games, n_actions=6):
    """``actions`` as an int64 array of shape (num_games,), or a ValueError that says what is wrong.

    Every vector-env step goes through this first: an action outside ``0..n_actions-1`` would
    make ale-py's native vector env wait forever, and a float or a tensor would be cast silently.
    """
    if hasattr(actions, "numpy"):  # a tf.Tensor
        actions = actions.numpy()
    array = np.asarray(actions)
    if array.size != num_games:
        raise ValueError(
            f"expected one action per game ({num_games}), got {array.size} (shape {array.shape}); "
            f"choose_action(model, observations, single=False) must return one action per observation"
        )
    array = array.reshape(num_games)
    if not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            raise ValueError(
                f"actions must be integers, got dtype {array.dtype}; convert them with "
                f".astype(np.int64) (did np.append or a float array turn them into floats?)"
            )
        raise ValueError(f"actions must be integer indices 0..{n_actions - 1}, got dtype {array.dtype}: {array[:8]}")
    if array.min() < 0 or array.max() >= n_actions:
        raise ValueError(
            f"actions must lie in 0..{n_actions - 1} (the game has {n_actions} actions), got values from "
            f"{array.min()} to {array.max()}; does the policy's last layer have {n_actions} units?"
        )
    return array.astype(np.int64)


def _frames(observations):
    obs = np.asarray(observations)
    return obs[:, 0] if obs.ndim == 5 else obs


def _n_actions(envs):
    space = getattr(envs, "single_action_space", None) or getattr(envs, "action_space", None)
    return int(getattr(space, "n", 6))


# --------------------------------------------------------------------------------------------
# Rollouts
# --------------------------------------------------------------------------------------------
def _play(envs, act, observe=frame_change, max_steps=None, seed=None):
    """Play every game of ``envs`` once, all together; yield each step as it is taken.

    Each step turns the last two frames of every game into observations (``observe(previous,
    current)``; a game starts with no motion), asks ``act(observations)`` for one action per game,
    checks them and steps all games. Yields ``(observations, actions, rewards, playing)`` where
    ``playing`` marks the games still in their first episode (a finished game is restarted by the
    vector environment, but its new episode is not played). Stops when every game has finished or
    after ``max_steps`` steps.
    """
    num_games = envs.num_envs
    n_actions = _n_actions(envs)
    frames, _ = envs.reset(seed=seed)
    current = _frames(frames)
    previous = current
    done = np.zeros(num_games, dtype=bool)
    steps = 0
    while not done.all() and (max_steps is None or steps < max_steps):
        observations = observe(previous, current)
        actions = validate_actions(act(observations), num_games, n_actions)
        frames, rewards, terminated, truncated, _ = envs.step(actions)
        yield observations, actions, np.asarray(rewards), ~done
        done |= np.asarray(terminated) | np.asarray(truncated)
        previous, current = current, _frames(frames)
        steps += 1


def collect_rollout(envs, model, choose_action, max_steps=None, observe=frame_change):
    """Play one Pong episode in every game of ``envs`` at once; return one ``Trajectory`` per game.

    ``envs`` is a vector environment of Pong games (``make_pong_envs``). Every step makes ONE
    batched policy call for all games, ``choose_action(policy, observations, single=False)`` on a
    compiled wrapper of ``model``, checks the actions (one integer in range per game) and steps all
    games together. An observation is ``observe(previous frames, current frames)``, by default
    ``frame_change``: (80, 80, 1) float32. A game that has finished stops being recorded while the
    others play on; ``max_steps`` caps the episode length (None: play until every game is over).
    """
    policy = model if isinstance(model, CompiledPolicy) else CompiledPolicy(model)
    trajectories = [Trajectory() for _ in range(envs.num_envs)]
    act = lambda observations: choose_action(policy, observations, single=False)  # noqa: E731
    for observations, actions, rewards, playing in _play(envs, act, observe, max_steps):
        for i in np.flatnonzero(playing):
            trajectories[i].observations.append(observations[i])
            trajectories[i].actions.append(int(actions[i]))
            trajectories[i].rewards.append(float(rewards[i]))
    return trajectories


# --------------------------------------------------------------------------------------------
# Training games: two halves, so that the emulators never wait for the policy
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(repr=False)
class PongStep:
    """One step of some of the games: for each game that played it, its index, what the policy saw,
    what it did, what that earned, and whether that game just ended (terminated or truncated).

    ``for game, observation, action, reward, ended in step:`` walks through the games one by one.
    """

    games: np.ndarray
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    ended: np.ndarray

    def __iter__(self):
        return zip(self.games.tolist(), self.observations, self.actions.tolist(), self.rewards.tolist(),
                   self.ended.tolist())

    def __len__(self):
        return len(self.games)

    def __repr__(self):
        return f"PongStep(games {self.games.tolist()}, rewards {self.rewards.tolist()})"


class PongGames:
    """``num_games`` Pong games for training, played in two halves so that no emulator waits for the policy.

    One ale-py vector env per half (``make_pong_envs``'s settings; ``num_threads`` emulator threads
    each). ``play(act)`` sends one half's actions and, while that half's emulators play them, asks
    ``act`` for the other half's: the policy's forward pass, the frame preprocessing and whatever the
    caller does with a step run while the emulators run, instead of after them. With one game there is
    one half and nothing overlaps. Game ``i`` is seeded ``seed + i`` as in ``make_pong_envs``, and the
    halves take turns in a fixed order, so a seed gives the same games and the same calls to ``act``
    whatever the machine's timing. Close with ``close()`` (in a ``finally:``).
    """

    def __init__(self, num_games, num_threads=2, **settings):
        num_games = int(num_games)
        if num_games < 1:
            raise ValueError(f"num_games must be at least 1, got {num_games}")
        settings = {**PONG_SETTINGS, **settings}
        self.num_games = num_games
        cut = num_games // 2 if num_games > 1 else num_games
        self._halves = [h for h in (np.arange(cut), np.arange(cut, num_games)) if len(h)]
        self._envs = []
        self._in_flight = set()  # ids of the halves' envs whose actions were sent and whose step was not received
        try:
            for half in self._halves:
                self._envs.append(_ale_vector_env(len(half), int(num_threads), settings))
        except BaseException:
            self.close()
            raise
        self.single_action_space = self._envs[0].single_action_space

    def play(self, act, seed=None):
        """Play all games for ever (a finished game restarts at once); yield a ``PongStep`` per half step.

        ``act(observations)`` gets the frame differences (``frame_change``: a game starts with no
        motion) of one half's games and returns one action per game; the actions are checked
        (``validate_actions``) before the emulators see them. A step that only restarts a finished
        game is not yielded: every game in a ``PongStep`` played an action. Stop by leaving the loop.
        """
        n_actions = int(self.single_action_space.n)
        halves = []
        for half, envs in zip(self._halves, self._envs):
            frames, _ = envs.reset(seed=None if seed is None else int(seed) + int(half[0]))
            frame = preprocess_frame(frames)
            halves.append({"games": half, "envs": envs, "previous": frame, "current": frame,
                           "playing": np.ones(len(half), dtype=bool)})

        def send(h):
            h["observations"] = h["current"] - h["previous"]
            h["actions"] = validate_actions(act(h["observations"]), len(h["games"]), n_actions)
            h["envs"].send(h["actions"])
            self._in_flight.add(id(h["envs"]))

        def receive(h):
            frames, rewards, terminated, truncated, _ = h["envs"].recv()
            self._in_flight.discard(id(h["envs"]))
            playing, ended = h["playing"], np.asarray(terminated) | np.asarray(truncated)
            step = PongStep(h["games"][playing], h["observations"][playing], h["actions"][playing],
                            np.asarray(rewards)[playing], ended[playing])
            h["previous"], h["current"] = h["current"], preprocess_frame(frames)
            h["previous"][~playing] = h["current"][~playing]  # a game that just restarted: no motion yet
            h["playing"] = ~ended  # an ended game's next step only restarts it
            return step

        try:
            send(halves[0])
            k = 0
            while True:
                this, following = halves[k], halves[(k + 1) % len(halves)]
                if following is not this:
                    send(following)  # the policy runs while this half's emulators play
                step = receive(this)
                if following is this:
                    send(this)
                yield step
                k = (k + 1) % len(halves)
        finally:
            self._drain()

    def _drain(self):
        """Receive every step still being played, so that no emulator thread is left waiting."""
        for envs in self._envs:
            if id(envs) in self._in_flight:
                envs.recv()
                self._in_flight.discard(id(envs))

    def close(self):
        try:
            self._drain()
        finally:
            for envs in self._envs:
                envs.close()
            self._envs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SplitBatch:
    """``model`` run on each batch as ``parts`` equal slices, whose work TensorFlow spreads over its threads.

    The Pong update's gradient steps are one long chain of operations, and with one thread per
    operation (the lab's setting) a chain runs on one core while the other waits. ``SplitBatch(model)``
    is called like the model and returns the same outputs (the slices' outputs, concatenated), but
    inside a ``tf.function`` its slices are independent branches, forward and backward, that
    TensorFlow runs at the same time; the gradients of the two branches meet only where they add up.
    So a training step handed ``SplitBatch(model)`` instead of ``model`` computes the same loss and
    the same gradient (up to float rounding) on both cores: about 1.4 times faster on 2 cores for a
    512-step minibatch of the Pong CNN. Everything else (``trainable_variables``, ``layers``...) is
    the model's. Create it once and keep it: a compiled step is traced once per object it is handed.
    """

    def __init__(self, model, parts=2):
        if int(parts) < 1:
            raise ValueError(f"parts must be at least 1, got {parts}")
        self.model = model
        self.parts = int(parts)

    def __call__(self, x, training=False):
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        n = tf.shape(x)[0]
        bounds = [n * i // self.parts for i in range(self.parts + 1)]
        slices = [self.model(x[lo:hi], training=training) for lo, hi in zip(bounds[:-1], bounds[1:])]
        return tf.concat(slices, axis=0)

    def __getattr__(self, name):  # trainable_variables, layers, ... of the wrapped model
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


class BackgroundUpdates:
    """Policy updates on a second thread, while the games go on with the weights from before.

    ``update(**batch)`` (e.g. the notebook's ``train_step`` with its model, loss and optimizer
    bound) trains ``model``; the games are played by ``actor``, a copy of ``model`` that only
    ``submit`` changes. ``submit(**batch)`` waits for the update still running (if any), copies
    its result into ``actor`` and starts the update on ``batch`` in the background, then returns at
    once with ``loss``, the loss of the last update that finished (NaN before the first). So while
    the network learns from one batch, the next one is collected with the weights before that
    update: one update behind, always the same, so a seed still gives the same run whatever the
    machine's timing. ``finish()`` waits for the running update and returns ``loss``; ``close()``
    (in a ``finally:``) waits and stops the thread. An error in ``update`` is raised by the next
    ``submit`` or ``finish``.
    """

    def __init__(self, model, update):
        import concurrent.futures

        import keras

        self.model = model
        self.actor = keras.models.clone_model(model)
        self.actor.set_weights(model.get_weights())
        self._update = update
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="policy-update")
        self._running = None
        self.loss = float("nan")  # of the last update that finished

    def finish(self):
        """Wait for the running update (if any) and copy its weights into ``actor``; return ``loss``."""
        if self._running is not None:
            running, self._running = self._running, None
            self.loss = float(running.result())
            self.actor.set_weights(self.model.get_weights())
        return self.loss

    def submit(self, **batch):
        """Start an update on ``batch`` once the previous one is done; return the last finished update's loss."""
        loss = self.finish()
        self._running = self._thread.submit(self._update, **batch)
        return loss

    def close(self):
        try:
            self.finish()
        finally:
            self._thread.shutdown(wait=True)


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
def checkpoint_path(directory, iteration, prefix="pong"):
    """``<directory>/<prefix>_<iteration, 9 digits>.weights.h5`` (Keras 3 needs that suffix).

    Creates ``directory`` if needed, so the path can be handed straight to ``model.save_weights``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{prefix}_{int(iteration):09d}.weights.h5"


def save_checkpoint(model, directory, iteration, prefix="pong"):
    """Save ``model``'s weights as ``checkpoint_path(directory, iteration)``, atomically.

    The weights go to a temporary file in the same folder first and are renamed into place once
    complete, so an interrupted save (Ctrl-C, a full disk) never leaves a half-written checkpoint
    under a name that ``latest_checkpoint`` would pick. Returns the path.
    """
    path = checkpoint_path(directory, iteration, prefix)
    partial = path.with_name(f".{path.stem}.partial{os.getpid()}.weights.h5")
    try:
        model.save_weights(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def _readable_weights(path):
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            found = []
            fh.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            return bool(found)
    except (OSError, ValueError):
        return False


def latest_checkpoint(directory, prefix="pong"):
    """``(path, iteration)`` of the newest readable checkpoint in ``directory``; ``(None, 0)`` if none.

    A checkpoint that cannot be opened, or holds no weights, is skipped with a warning naming it
    (delete it, or keep it for inspection: it is never picked).
    """
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)\.weights\.h5$")
    found = []
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.iterdir():
            match = pattern.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
    for iteration, path in sorted(found, reverse=True):
        if _readable_weights(path):
            return path, iteration
        warnings.warn(f"skipping unreadable checkpoint {path} (a save was interrupted?); delete it", stacklevel=2)
    return None, 0


class TrainingRecord:
    """A CSV file with one row per logged moment of a training run, appended and flushed as it goes.

    ``record.append(agent_steps=..., seconds=..., score=...)`` writes a row (the columns are
    fixed by the first row); ``record.rows()`` reads them back as dicts of floats and
    ``record.last()`` the newest one, so a resumed run continues the count of steps and seconds.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def rows(self):
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as fh:
            rows = []
            for line, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    rows.append({key: float(value) for key, value in row.items()})
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{self.path}, line {line}: not a row of numbers ({row}); {exc}") from exc
            return rows

    def last(self):
        rows = self.rows()
        return rows[-1] if rows else None

    def append(self, **values):
        new = not self.path.is_file() or self.path.stat().st_size == 0
        if not new:
            with open(self.path, newline="") as fh:
                columns = next(csv.reader(fh))
            if list(values) != columns:
                raise ValueError(f"{self.path} has columns {columns}, this row has {list(values)}")
        with open(self.path, "a", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(list(values))
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in values.values()])


# --------------------------------------------------------------------------------------------
# Evaluation and the shipped agent
# --------------------------------------------------------------------------------------------
PRETRAINED_PONG = Path(__file__).with_name("assets") / "pong_agent.weights.h5"
# The shipped agent's layers as plain data (what `benchmarks/lab3_pong_long.py --export` wrote):
# read by load_pretrained_pong, so that any Keras 3 release rebuilds the model (a saved .keras
# model carries its Keras version's configuration format, which older releases refuse).
PRETRAINED_PONG_LAYERS = PRETRAINED_PONG.with_name("pong_agent.json")
PRETRAINED_PONG_RECORD = PRETRAINED_PONG.with_name("pong_agent.csv")  # its training record
LAYER_SETTINGS = ("filters", "kernel_size", "strides", "padding", "units", "activation")


def describe_layers(model):
    """The model's layers as JSON-friendly data: input shape, then class name and settings per layer."""
    layers = []
    for layer in model.layers:
        config = layer.get_config()
        entry = {"class": type(layer).__name__}
        entry.update({k: config[k] for k in LAYER_SETTINGS if k in config})
        layers.append(entry)
    return {"input_shape": list(model.input_shape[1:]), "layers": layers}


def build_from_description(description):
    """A Keras Sequential model built from ``describe_layers``'s data."""
    import keras

    layers = [keras.Input(tuple(description["input_shape"]))]
    for entry in description["layers"]:
        settings = {k: v for k, v in entry.items() if k != "class"}
        layers.append(getattr(keras.layers, entry["class"])(**settings))
    return keras.Sequential(layers)

def evaluate_pong(model, num_games=20, seed=0, greedy=False, max_steps=None, num_threads=2):
    """Play ``num_games`` games of Pong with ``model`` and return each game's score (won - lost).

    All games run at once in one vector environment (``make_pong_envs``: frameskip 4, sticky
    actions 0.25, the training settings), seeded by ``seed``; each plays one game to 21 points,
    or for ``max_steps`` agent steps when given (a short evaluation; the score so far). With
    ``greedy=False`` actions are sampled from the policy with a generator seeded by ``seed``;
    ``greedy=True`` takes the most likely action. Same model and seed, same scores. Returns an
    int64 array of shape (num_games,).
    """
    if int(num_games) < 1:
        raise ValueError(f"num_games must be at least 1, got {num_games}")
    policy = model if isinstance(model, CompiledPolicy) else CompiledPolicy(model)
    rng = np.random.default_rng(seed)

    def act(observations):
        logits = np.asarray(policy(observations), np.float64)
        if greedy:
            return logits.argmax(axis=-1)
        # Gumbel-max: argmax(logits + Gumbel noise) is a sample from softmax(logits)
        return (logits - np.log(-np.log(rng.random(logits.shape)))).argmax(axis=-1)

    envs = make_pong_envs(int(num_games), seed=seed, num_threads=num_threads)
    try:
        scores = np.zeros(int(num_games), np.int64)
        for _, _, rewards, playing in _play(envs, act, max_steps=max_steps, seed=seed):
            scores += np.where(playing, rewards, 0).astype(np.int64)
    finally:
        envs.close()
    return scores


def load_pretrained_pong(into=None):
    """The Pong agent trained for this course and shipped with the package (a Keras model).

    Without arguments: the lab's CNN (Conv2D(16, 8, s4) -> Conv2D(32, 4, s2) -> Dense(64) ->
    Dense(6) logits, on 80x80x1 frame differences) with the shipped weights. With
    ``into=model``: copies those weights into your own model of the same architecture (e.g. your
    ``create_pong_model()``) and returns it; a different architecture is an error that says how
    the weights differ. ``mitdeeplearning/assets/pong_agent.csv`` is its training record.
    """
    import json

    for path in (PRETRAINED_PONG, PRETRAINED_PONG_LAYERS):
        if not path.is_file():
            raise FileNotFoundError(
                f"the shipped Pong agent is missing ({path}); reinstall the package "
                f"(pip install --force-reinstall) or train one in lab 3"
            )
    trained = build_from_description(json.loads(PRETRAINED_PONG_LAYERS.read_text()))
    trained.load_weights(PRETRAINED_PONG)
    if into is None:
        return trained
    mine, theirs = into.weights, trained.weights
    if len(mine) != len(theirs) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(mine, theirs)):
        raise ValueError(
            "your model's weights do not match the shipped agent's: yours "
            f"{[tuple(w.shape) for w in mine]}, the agent's {[tuple(w.shape) for w in theirs]}. Build the "
            "architecture of create_pong_model exactly (Conv2D(16, 8, strides=4), Conv2D(32, 4, strides=2), Flatten, "
            "Dense(64), Dense(n_actions))"
        )
    into.set_weights(trained.get_weights())
    return into
