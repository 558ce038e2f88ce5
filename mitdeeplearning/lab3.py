"""Lab 3: reinforcement learning with policy gradients (Cart-Pole, then Pong from pixels).

The public face of the lab: the helpers the notebook uses (environments, frames, rollouts,
checkpoints, videos, the shipped agent; from ``mitdeeplearning.rl`` and ``mitdeeplearning.video``),
the 2020/21 names that older notebooks call (``Memory``, ``aggregate_memories``, ``preprocess_pong``,
``pong_change``, ``parallelized_collect_rollout``, ``save_video_of_model``, ``save_video_of_memory``;
from ``mitdeeplearning.compat2021.lab3``), and one ``check_*`` per TODO (from ``mitdeeplearning.rl_checks``).
"""

from .compat2021 import lab3 as _wing
from .compat2021.lab3 import (  # noqa: F401  (re-exported)
    Memory,
    aggregate_memories,
    parallelized_collect_rollout,
    pong_change,
    preprocess_pong,
    save_video_of_memory,
    save_video_of_model,
)
from .rl_checks import (  # noqa: F401  (re-exported)
    check_choose_action,
    check_memory,
    check_discount_rewards,
    check_compute_loss,
    check_train_step,
    check_preprocess_frame,
    check_frame_difference,
    check_discount_rewards_pong,
    check_pong_model,
)
from .rl import (  # noqa: F401  (re-exported)
    OLD_ENV_IDS,
    PONG_ENV_NAME,
    PONG_SETTINGS,
    PRETRAINED_PONG,
    PRETRAINED_PONG_LAYERS,
    PRETRAINED_PONG_RECORD,
    CompiledPolicy,
    BackgroundUpdates,
    SplitBatch,
    NumpyPolicy,
    PongGames,
    PongStep,
    TrainingRecord,
    Trajectory,
    checkpoint_path,
    collect_rollout,
    current_env_id,
    evaluate_pong,
    frame_change,
    latest_checkpoint,
    load_pretrained_pong,
    make_env,
    make_pong_envs,
    normalize,
    preprocess_frame,
    save_checkpoint,
    validate_actions,
)
from .video import count_frames, play_video, save_video_of_agent, save_video_of_observations, write_mp4  # noqa: F401

__all__ = [
    # environments
    "PONG_ENV_NAME",
    "PONG_SETTINGS",
    "OLD_ENV_IDS",
    "current_env_id",
    "make_env",
    "make_pong_envs",
    "PongGames",
    "PongStep",
    "BackgroundUpdates",
    "SplitBatch",
    "validate_actions",
    # frames, returns, policies, rollouts
    "preprocess_frame",
    "frame_change",
    "normalize",
    "CompiledPolicy",
    "NumpyPolicy",
    "Trajectory",
    "collect_rollout",
    # checkpoints, training records, the shipped agent
    "checkpoint_path",
    "save_checkpoint",
    "latest_checkpoint",
    "TrainingRecord",
    "PRETRAINED_PONG",
    "PRETRAINED_PONG_LAYERS",
    "PRETRAINED_PONG_RECORD",
    "evaluate_pong",
    "load_pretrained_pong",
    # videos
    "write_mp4",
    "count_frames",
    "play_video",
    "save_video_of_agent",
    "save_video_of_observations",
    # older call forms, from the compatibility wing (compat2021.lab3)
    *_wing.__all__,
    # checks, one per TODO
    "check_choose_action",
    "check_memory",
    "check_discount_rewards",
    "check_compute_loss",
    "check_train_step",
    "check_preprocess_frame",
    "check_frame_difference",
    "check_discount_rewards_pong",
    "check_pong_model",
]
