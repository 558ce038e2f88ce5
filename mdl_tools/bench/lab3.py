"""Lab 3 section of the report: Cart-Pole learning curves and Pong rollout speed."""

from . import common


def measure(quick, work_dir, figures, log=print):
    rl = common.run_benchmark("lab3_rl.py", quick, log)
    draw_cartpole_rewards(rl["cartpole"], figures / "lab3_cartpole_rewards.png")
    draw_pong_strip(figures / "lab3_pong_frame_differences.png")
    return {"rl": rl, "figures": ["lab3_cartpole_rewards.png", "lab3_pong_frame_differences.png"]}


def render(s, fig):
    import numpy as np

    cp, pong = s["rl"]["cartpole"], s["rl"]["pong"]
    solved = [r for r in cp["seeds"] if r["solved_episode"]]
    lines = [
        "", "## Lab 3: reinforcement learning", "",
        "**What good looks like.** Cart-Pole's mean reward over the last 100 episodes climbs to 475 (the",
        "`CartPole-v1` threshold) within a few hundred episodes, in 1–2 minutes on a CPU; a flat curve near 20 means",
        "the loss has the wrong sign. Pong learns slowly: on a CPU budget expect the score to stay near −20",
        "(the pipeline is what the `default` profile shows); learning to win needs the `full` profile on a GPU.", "",
        f"Cart-Pole, REINFORCE (MLP {cp['settings']['units']}, Adam {cp['settings']['learning_rate']:g}, "
        f"γ {cp['settings']['gamma']}), {len(cp['seeds'])} seed{'s' if len(cp['seeds']) > 1 else ''}, "
        f"each capped at {cp['max_seconds']} s:", "",
        "| seed | episodes to mean-100 ≥ 475 | seconds |", "|---|---|---|",
    ]
    for r in cp["seeds"]:
        lines.append(f"| {r['seed']} | {r['solved_episode'] or 'not solved'} | {r['seconds']:.1f} |")
    if solved:
        lines.append(f"| **median of solved** | {np.median([r['solved_episode'] for r in solved]):.0f} "
                     f"| {np.median([r['seconds'] for r in solved]):.1f} |")
    best = pong["best"]
    lines += [
        "", f"Solved within 120 s in {cp['solved_within_120s']} of {len(cp['seeds'])} seeds.", "",
        "Pong rollout collection (env steps per second, the notebook's CNN policy on frame differences):", "",
        "| collector | env steps/s |", "|---|---|",
    ]
    for b in pong["batched"]:
        lines.append(f"| batched: {b['num_envs']} games in one `{b['backend']}` vector env, one compiled policy call per step "
                     f"| {b['env_steps_per_s']:,.0f} |")
    lines += [
        f"| per env and per step `model.predict` (8 games, the 2020/21 way) | {pong['per_step_predict']:,.1f} |",
        f"| the {best['num_envs']}-game vector env alone, random actions (ceiling) | {pong['emulator_only']:,.0f} |",
        f"| one `ALE/Pong-v5` env alone, random actions | {pong['raw_env']:,.0f} |",
        "", f"Batched is **{pong['ratio']:.0f}×** the per-step collector in the same run; one policy call for "
        f"{best['num_envs']} frames takes {pong['policy_ms_per_batch']:.1f} ms. Target ≥ 2,500 env steps/s: "
        f"**{'met' if best['env_steps_per_s'] >= 2500 else 'not met'}** on this machine.",
        "", common.stamp(s), "", *common.images(s, fig, {"lab3_cartpole_rewards.png": "Cart-Pole reward curves",
                                             "lab3_pong_frame_differences.png": "Pong frames and frame differences"}),
    ]
    return lines


def draw_cartpole_rewards(cartpole, path):
    import numpy as np

    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for run in cartpole["seeds"]:
        rewards = np.asarray(run["episode_rewards"], dtype=float)
        mean100 = np.array([rewards[max(0, i - 99): i + 1].mean() for i in range(len(rewards))])
        status = f"solved at {run['solved_episode']}" if run["solved_episode"] else "not solved"
        ax.plot(mean100, label=f"seed {run['seed']} ({status}, {run['seconds']:.0f} s)")
    ax.axhline(cartpole["settings"]["solved_mean100"], color="k", lw=0.8, ls="--")
    ax.set_xlabel("episode")
    ax.set_ylabel("mean reward, last 100 episodes")
    ax.set_title("Lab 3: Cart-Pole REINFORCE")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw_pong_strip(path, frames=5, skip=40):
    """Pre-processed Pong frames (top) and their differences (bottom) from a random game."""
    from mitdeeplearning import rl

    plt = common.pyplot()
    env = rl.make_env(rl.PONG_ENV_NAME, seed=0)
    try:
        frame, _ = env.reset()
        for _ in range(skip):  # past the serve, so that the ball is in play
            frame, *_ = env.step(env.action_space.sample())
        shots = [rl.preprocess_pong(frame)]
        for _ in range(frames):
            frame, *_ = env.step(env.action_space.sample())
            shots.append(rl.preprocess_pong(frame))
    finally:
        env.close()
    fig, axes = plt.subplots(2, frames, figsize=(frames * 1.6, 3.5))
    for j in range(frames):
        axes[0][j].imshow(shots[j + 1][..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1][j].imshow((shots[j + 1] - shots[j])[..., 0], cmap="bwr", vmin=-1, vmax=1)
        for ax in axes[:, j]:
            ax.axis("off")
    axes[0][0].set_title("preprocess_pong(frame)", fontsize=8, loc="left")
    axes[1][0].set_title("pong_change(prev, frame)", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

