"""Lab 3's 2020/21 names, call forms and meanings, as thin wrappers over today's ``mitdeeplearning.rl``
and ``mitdeeplearning.video``; ``mdl.lab3`` re-exports them (see docs/COMPATIBILITY.md, Lab 3).

What today's lab calls instead:

==========================================================  ===============================================
2020/21                                                     today
==========================================================  ===============================================
``Memory``, ``aggregate_memories``                          the notebook's own ``Memory`` (a TODO);
                                                            ``collect_rollout`` returns ``rl.Trajectory``
``preprocess_pong(image)``: 40x40x1 float64, dilated        ``preprocess_frame(frame)``: 80x80x1 float32
``pong_change(prev, curr)``: previous - current, 40x40      ``frame_change(prev, curr)``: current - previous
``parallelized_collect_rollout(batch_size, envs, ...)``     ``collect_rollout(envs, model, choose_action)``
``save_video_of_model(model, env_name, suffix=...)``        ``save_video_of_agent(model, env_name, filename,
                                                            observe=...)``
``save_video_of_memory(memory, filename)``                  ``save_video_of_observations(observations, ...)``
==========================================================  ===============================================
"""

import numpy as np

from .. import rl, video

__all__ = [
    "Memory",
    "aggregate_memories",
    "preprocess_pong",
    "pong_change",
    "parallelized_collect_rollout",
    "save_video_of_model",
    "save_video_of_memory",
]


class Memory:
    """What an agent saw, did and got during its episodes: three lists of equal length (2021)."""

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


def _as_memory(trajectory):
    memory = Memory()
    memory.observations, memory.actions, memory.rewards = trajectory.observations, trajectory.actions, trajectory.rewards
    return memory


# --------------------------------------------------------------------------------------------
# Pong frames, 2021: 40x40 float64, previous minus current
# --------------------------------------------------------------------------------------------
def preprocess_pong(image):
    """The 2021 package's Pong pre-processing: (40, 40, 1) float64 of 0s and 1s.

    Crop rows 35..194, keep every 2nd row and column of the red channel, erase the two background
    colours, set the rest to 1, thicken it with a 3x3 dilation (so the ball survives the next
    step), and keep every 2nd row and column again. Today: ``preprocess_frame`` (80x80 float32,
    no dilation).
    """
    import cv2

    image = np.asarray(image)
    if image.shape != (210, 160, 3):
        raise ValueError(f"expected one Pong frame of shape (210, 160, 3), got {image.shape}")
    red = image[35:195:2, ::2, 0]
    background = rl.PONG_BACKGROUND
    binary = ((red != background[0]) & (red != background[1]) & (red != 0)).astype(np.uint8)
    thick = cv2.dilate(binary, np.ones((3, 3), np.uint8), iterations=1)
    return thick[::2, ::2, np.newaxis].astype(np.float64)


def pong_change(prev, curr):
    """The 2021 package's frame difference: ``preprocess_pong(prev) - preprocess_pong(curr)``.

    (40, 40, 1) float64 with values -1, 0, 1: previous minus current, as it was. Today:
    ``frame_change(prev, curr)`` (current minus previous, 80x80 float32).
    """
    return preprocess_pong(prev) - preprocess_pong(curr)


def _pong_change_of_batches(previous, current):
    return np.stack([pong_change(p, c) for p, c in zip(previous, current)])


# --------------------------------------------------------------------------------------------
# Rollouts
# --------------------------------------------------------------------------------------------
class _EnvList:
    """A list of gymnasium environments stepped in turn, with a vector environment's reset/step.

    The 2021 notebooks hand ``parallelized_collect_rollout`` a list of environments; this lets
    today's ``collect_rollout`` play them. A finished game is reset on the next step, as
    gymnasium's vector environments do.
    """

    def __init__(self, env_list):
        self.envs = list(env_list)
        self.num_envs = len(self.envs)
        self.single_action_space = self.envs[0].action_space
        self._needs_reset = [False] * self.num_envs

    def reset(self, seed=None):
        frames = [env.reset(seed=None if seed is None else seed + i)[0] for i, env in enumerate(self.envs)]
        self._needs_reset = [False] * self.num_envs
        return np.stack(frames), {}

    def step(self, actions):
        out = []
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            if self._needs_reset[i]:
                frame, _ = env.reset()
                out.append((frame, 0.0, False, False))
                self._needs_reset[i] = False
                continue
            frame, reward, terminated, truncated, _ = env.step(int(action))
            self._needs_reset[i] = bool(terminated or truncated)
            out.append((frame, reward, terminated, truncated))
        frames, rewards, terminated, truncated = zip(*out)
        return np.stack(frames), np.array(rewards, np.float32), np.array(terminated), np.array(truncated), {}


def parallelized_collect_rollout(batch_size, envs, model, choose_action=None, max_steps=None):
    """The 2021 rollout: one Pong episode in every game at once, one ``Memory`` per game.

    ``batch_size`` is the number of games, as in the 2020/21 call form: pass it or None (another
    value is an error). ``envs`` is a vector environment of today's lab (``make_pong_envs``; the
    observations are ``frame_change``, 80x80 float32) or, as the 2021 notebooks pass it, a list of
    Pong environments (the observations are then the 2021 ``pong_change``, 40x40 float64).
    ``choose_action`` defaults to sampling from the model's logits. Today:
    ``rl.collect_rollout(envs, model, choose_action, max_steps)``.
    """
    observe = rl.frame_change
    if isinstance(envs, (list, tuple)):
        if not envs or not all(hasattr(env, "step") for env in envs):
            raise TypeError(
                "envs must be a gymnasium vector environment (mdl.lab3.make_pong_envs(n)) or a non-empty "
                f"list of gymnasium environments, got {envs!r:.80}"
            )
        envs, observe = _EnvList(envs), _pong_change_of_batches
    num_games = getattr(envs, "num_envs", None)
    if num_games is None:
        raise TypeError(f"envs must be a gymnasium vector environment or a list of environments, got {type(envs).__name__}")
    if batch_size is not None and batch_size != num_games:
        raise ValueError(f"batch_size is {batch_size} but the environment holds {num_games} games; pass batch_size=None")
    trajectories = rl.collect_rollout(envs, model, choose_action or rl._sample_actions, max_steps, observe=observe)
    return [_as_memory(t) for t in trajectories]


# --------------------------------------------------------------------------------------------
# Videos
# --------------------------------------------------------------------------------------------
def _pong_observation(model):
    """The frame difference a Pong model was built for: the 2021 40x40 one, or today's 80x80."""
    shape = getattr(getattr(model, "model", model), "input_shape", None)
    if shape is not None and tuple(shape[1:3]) == (40, 40):
        return pong_change
    return rl.frame_change


def save_video_of_model(model, env_name, suffix="", num_frames=1000, filename=None, seed=0, fps=30,
                        obs_diff=None, pp_fn=None):
    """The 2020 and 2021 forms of filming an agent; returns the mp4's file name.

    2021: ``(model, env_name, suffix="")`` writes ``<env>_agent<suffix>.mp4``; a Pong model sees
    the frame difference its input shape asks for (the 2021 ``pong_change`` for 40x40 inputs,
    else today's ``frame_change``). 2020: ``(model, env_name, obs_diff=True, pp_fn=preprocess)``:
    the model sees ``pp_fn(frame) - pp_fn(previous frame)`` (``pp_fn(frame)`` with
    ``obs_diff=False``). Old ids such as ``"Pong-v0"`` map to today's with a notice. Today:
    ``video.save_video_of_agent(model, env_name, filename, observe=...)``.
    """
    env_name = rl.current_env_id(env_name)
    if pp_fn is not None or obs_diff is not None:  # 2020
        prep = pp_fn or (lambda frame: np.asarray(frame, dtype=np.float32))
        observe = (lambda prev, curr: prep(curr) - prep(prev)) if obs_diff else (lambda prev, curr: prep(curr))
    elif "Pong" in env_name:  # 2021
        observe = _pong_observation(model)
    else:
        observe = None
    filename = filename or f"{env_name.replace('/', '_')}_agent{suffix}.mp4"
    return video.save_video_of_agent(model, env_name, filename, observe=observe, num_frames=num_frames,
                                     seed=seed, fps=fps)


def save_video_of_memory(memory, filename, size=(512, 512), fps=30):
    """The 2021 form: film the observations stored in a Memory. Today: ``video.save_video_of_observations``."""
    return video.save_video_of_observations(memory.observations, filename, size=size, fps=fps)
