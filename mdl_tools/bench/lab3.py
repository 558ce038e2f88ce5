"""Lab 3 section of the report: Cart-Pole, Pong learning, the shipped agent, rollout speed."""

import json

import numpy as np

from . import common
from .reference import REFERENCE_CAPTION, draw_references


def measure(quick, work_dir, figures, log=print):
    rl = common.run_benchmark("lab3_rl.py", quick, log)
    for key, name in (("long", "lab3_long_runs.json"), ("updates", "lab3_update_runs.json")):
        kept = common.repository_root() / "benchmarks" / name
        if kept.exists() and not quick:  # parts too long for make bench, measured on their own (10-30 min a run)
            rl[key] = json.loads(kept.read_text())
    if not quick:  # what the notebook's live plots draw behind the student's curve, and judge it against
        for path in common.benchmark_module("lab3_rl.py")["write_training_references"](rl):
            log(f"  wrote {path.relative_to(common.repository_root())}")
    draw_cartpole_rewards(rl["cartpole"], figures / "lab3_cartpole_rewards.png")
    draw_pong_learning(rl, figures / "lab3_pong_learning.png", band=not quick)
    draw_pong_strip(figures / "lab3_pong_frame_differences.png")
    drawn = ["lab3_cartpole_rewards.png", "lab3_pong_learning.png", "lab3_pong_frame_differences.png"]
    if draw_pong_minutes(rl, figures / "lab3_pong_minutes.png"):
        drawn.append("lab3_pong_minutes.png")
    bands = draw_references(["lab3.cartpole", "lab3.pong"], figures / "lab3_references.png")
    return {"rl": rl, "figures": [*drawn, bands]}


def _pm(values, digits=2, sign=False):
    """``mean ± SE`` over seeds (or games) of ``values``, formatted by the report's one helper."""
    return common.format_mean_se(common.mean_se(values), digits=digits, sign=sign)


def _minutes(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _seeds(n):
    return f"{n} seed{'s' if n != 1 else ''}"


def _first_win(record):
    """The shipped agent's first record row whose score (last 100 games) reached 0, else None."""
    return next((r for r in record if r["score"] >= 0), None)


def _what_good_looks_like(rl):
    """The section's opening paragraph, every figure in it taken from the measured results."""
    cp, pong, agent = rl["cartpole"], rl["pong"], rl["agent"]
    solved = [r for r in cp["seeds"] if r["solved_episode"]]
    if solved:
        cartpole = (f"within {max(r['solved_episode'] for r in solved):,} episodes and "
                    f"{_minutes(max(r['seconds'] for r in solved))} on a CPU ({len(solved)} of {_seeds(len(cp['seeds']))} here)")
    else:
        cartpole = f"— here in none of {_seeds(len(cp['seeds']))} within {cp['max_seconds']} s"
    won = [r["points_won"] for r in pong["seeds"]]
    spread = f"{min(won):.1f}" if min(won) == max(won) else f"{min(won):.1f}–{max(won):.1f}"
    text = [f"**What good looks like.** Cart-Pole's mean reward over the last 100 episodes climbs to "
            f"{cp['settings']['solved_mean100']:g} (the `CartPole-v1` threshold) {cartpole}; a curve that stays flat "
            "at a random agent's level means the loss has the wrong sign."]
    random = agent.get("random")
    if random and random.get("points_won"):
        text.append(f"In Pong a random agent wins {_pm(random['points_won'], 1)} points per game "
                    f"(score {_pm(random['scores'], 1, sign=True)}).")
    text.append(f"By the end of the `default` budget ({pong['settings']['pong_agent_steps']:,} agent steps) the agent "
                f"won {spread} points per game in our {_seeds(len(won))}.")
    beat = _first_win(agent["record"])
    if beat:
        text.append(f"Beating the built-in opponent (score > 0) took the shipped agent {_minutes(beat['seconds'])} "
                    "of one CPU core.")
    long = _long_sentence(rl.get("long"))
    if long:
        text.append(long)
    text.append("All numbers below come from the solution notebook's own `run_cartpole`, `run_pong` and "
                "`choose_action` (`benchmarks/lab3_rl.py`). ± is the standard error over seeds (over games for "
                "the evaluations).")
    return " ".join(text)


def _long_sentence(long):
    """The opening paragraph's sentence on the ``long`` profile ("" when it was not measured)."""
    if not long or not long["seeds"]:
        return ""
    times = [r["beat_it_at_minutes"] for r in long["seeds"] if r["beat_it_at_minutes"] is not None]
    when = (f", after {min(times):.0f}–{max(times):.0f} min" if len(times) > 1 else
            f", after {times[0]:.0f} min" if times else "")
    return (f"A student's own agent, trained from scratch with the `long` profile on 2 CPU cores, beat it in "
            f"{long['beaten']} of {_seeds(len(long['seeds']))} within {long['minutes']} min{when}.")


def render(s, fig):
    rl = s["rl"]
    cp, pong, agent, speed = rl["cartpole"], rl["pong"], rl["agent"], rl["throughput"]
    solved = [r for r in cp["seeds"] if r["solved_episode"]]
    lines = [
        "", "## Lab 3: reinforcement learning", "", _what_good_looks_like(rl), "",
        f"Cart-Pole, REINFORCE (MLP {cp['settings']['units']}, Adam {cp['settings']['learning_rate']:g}, "
        f"γ {cp['settings']['gamma']}), {_seeds(len(cp['seeds']))}, "
        f"each capped at {cp['max_seconds']} s:", "",
        f"| seed | episodes to mean-100 ≥ {cp['settings']['solved_mean100']:g} | seconds |", "|---|---|---|",
    ]
    for r in cp["seeds"]:
        lines.append(f"| {r['seed']} | {r['solved_episode'] or 'not solved'} | {r['seconds']:.1f} |")
    if solved:
        lines.append(f"| **median of solved** | {np.median([r['solved_episode'] for r in solved]):.0f} "
                     f"| {np.median([r['seconds'] for r in solved]):.1f} |")
    lines += (_pong_lines(rl) + _update_lines(rl.get("updates")) + _long_lines(rl.get("long")) + _agent_lines(agent)
              + _throughput_lines(speed) + _training_lines(rl.get("training")))
    lines += ["", common.stamp(s), "", *common.images(s, fig, {
        "lab3_cartpole_rewards.png": "Cart-Pole reward curves",
        "lab3_pong_learning.png": "Pong: points won per game against agent steps",
        "lab3_pong_minutes.png": "Pong: score against minutes of training on 2 cores, update rules and the long profile",
        "lab3_pong_frame_differences.png": "Pong frames and frame differences",
        "lab3_references.png": REFERENCE_CAPTION})]
    return lines


def _pong_lines(rl):
    pong = rl["pong"]
    st, target = pong["settings"], pong["target"]
    lines = [
        "", f"Pong, the `default` budget: {st['pong_agent_steps']:,} agent steps of `run_pong` ({st['pong_num_games']} games, "
        f"updates on {st['pong_batch_steps']:,} steps of completed rallies: {_update_rule(st)}; Adam {st['pong_learning_rate']:g}, "
        f"entropy bonus {st['pong_entropy_bonus']:g}, γ {st['pong_gamma']}), {_seeds(len(pong['seeds']))}; "
        "the last 100 finished games of each run:", "",
        "| seed | points won per game | score (won − lost) | seconds | agent steps/s with learning |", "|---|---|---|---|---|",
    ]
    for r in pong["seeds"]:
        lines.append(f"| {r['seed']} | {r['points_won']:.2f} | {r['score']:+.2f} | {r['seconds']:.0f} "
                     f"| {r['agent_steps'] / r['seconds']:,.0f} |")
    won = pong["points_won"]
    lines += ["", f"Mean points won per game: **{common.format_mean_se(won, digits=2)}** "
              f"(target ≥ {target:g}: **{'met' if won['mean'] >= target else 'not met'}**)."
              + (f" Times: {rl['pong_note']}." if rl.get("pong_note") else ""), ""]
    if rl.get("pong_tried"):  # settings compared at the default budget before choosing the default
        lines += ["Settings tried at the `default` budget (the same seed, points won per game over the last 100 games):", "",
                  "| batch (rally steps) | Adam step | seed | points won per game |", "|---|---|---|---|"]
        for t in rl["pong_tried"]:
            lines.append(f"| {t['pong_batch_steps']:,} | {t['pong_learning_rate']:g} | {t['seed']} | {t['points_won']:.2f} |")
        lines.append("")
    return lines


def _update_rule(knobs):
    """How each batch is learned from, in words (older results, measured before the knob existed: one step)."""
    epochs, parts = knobs.get("pong_update_epochs", 1), knobs.get("pong_minibatches", 1)
    if epochs == 1 and parts == 1:
        return "Part 1's REINFORCE step, one gradient step per batch"
    return f"PPO's clipped objective (clip {knobs['pong_clip']:g}), {epochs} passes × {parts} minibatches per batch"


#: Where the update-rule table reads each run's score: minutes of training on 2 cores.
UPDATE_MARKS = (2.5, 5, 7.5, 10)


def _score_at(curve, minutes):
    """The score of the last curve point at or before ``minutes`` (curve rows: agent steps, minutes, score)."""
    before = [row for row in curve if row[1] <= minutes]
    return before[-1][2] if before else None


def _update_lines(updates):
    """The update rules at equal wall time: score (last 100 games) after each mark, per rule and seed."""
    if not updates or not updates["variants"]:
        return []
    marks = [m for m in UPDATE_MARKS if m <= updates["minutes"]]
    lines = [f"Update rules compared at equal wall time (`benchmarks/lab3_rl.py --parts updates`): the `long` "
             f"profile's `run_pong`, each rule for {updates['minutes']} min on 2 cores with no other work; the score "
             "(won − lost) of the last 100 games after so many minutes:", "",
             "| update rule | seed | " + " | ".join(f"{m:g} min" for m in marks) + " | agent steps | agent steps/s |",
             "|---|---|" + "---|" * len(marks) + "---|---|"]
    for name, block in updates["variants"].items():
        for r in block["seeds"]:
            scores = [_score_at(r["curve"], m) for m in marks]
            cells = " | ".join("—" if x is None else f"{x:+.2f}" for x in scores)
            lines.append(f"| {name}: {_update_rule(block['knobs'])}, Adam {block['knobs']['pong_learning_rate']:g} "
                         f"| {r['seed']} | {cells} | {r['agent_steps']:,} "
                         f"| {r['agent_steps'] / (r['minutes'] * 60):,.0f} |")
    return lines + [""]


def _several_processors(runs):
    """Whether the runs were timed on more than one kind of processor (their minutes do not compare)."""
    return len({r.get("processor") for r in runs}) > 1


def _long_lines(long):
    """Beat it yourself: the ``long`` profile's seeds, and how many beat the computer within the time promised."""
    if not long or not long["seeds"]:
        return []
    runs, minutes = long["seeds"], long["minutes"]
    lines = [f"Beat it yourself, the `long` profile: `run_pong` with the default knobs and "
             f"{long['knobs']['pong_agent_steps']:,} agent steps, each seed for at most {minutes} min on 2 cores "
             f"with no other work (`benchmarks/lab3_rl.py --parts long`). The agent beats the computer when its "
             "mean score (won − lost) over the last 100 games goes above 0:", "",
             "| seed | score > 0 after (agent steps) | after (minutes) | at the end: agent steps | minutes | score "
             "| points won per game | agent steps/s | processor |", "|---|---|---|---|---|---|---|---|---|"]
    stopped = any(r.get("stopped_when_beaten") for r in runs)
    for r in runs:
        if r["beat_it_at_steps"] is None:
            steps, after = "not within the run", "—"
        else:
            steps, after = f"{r['beat_it_at_steps']:,}", f"{r['beat_it_at_minutes']:.1f}"
        mark = " (stopped: beaten)" if r.get("stopped_when_beaten") else ""
        lines.append(f"| {r['seed']} | {steps} | {after} | {r['agent_steps']:,} | {r['minutes']:.1f}{mark} "
                     f"| {r['score']:+.2f} | {r['points_won']:.2f} | {r['agent_steps'] / (60 * r['minutes']):,.0f} "
                     f"| {r.get('processor', 'not recorded')} |")
    lines += ["", f"**{long['beaten']} of {_seeds(len(runs))}** beat the computer within {minutes} min"
              + (f" (the promise asks for 4 of 5 seeds; {len(runs)} measured so far)." if len(runs) < 5 else
                 f" (promise: 4 of 5 seeds: **{'met' if long['beaten'] >= 4 else 'not met'}**).")
              + (" Seeds marked *stopped: beaten* were stopped as soon as they beat the computer "
                 "(`--until-beaten`): their end is that moment." if stopped else "")
              + (" The seeds ran on more than one kind of processor: their minutes compare only on the same one, "
                 "their agent steps on any." if _several_processors(runs) else ""), ""]
    return lines


def _agent_lines(agent):
    lines = []
    record, knobs = agent["record"], agent["trained_with"]
    if record:
        last, beat = record[-1], _first_win(record)
        lines += [
            f"The shipped agent (`mdl.lab3.load_pretrained_pong()`): the same `run_pong` with the `full` profile's "
            f"knobs (batches of {knobs['pong_batch_steps']:,} rally steps, {_update_rule(knobs)}, Adam "
            f"{knobs['pong_learning_rate']:g}), trained for "
            f"{int(last['agent_steps']):,} agent steps in {last['seconds'] / 60:.0f} min on one CPU core "
            f"(`benchmarks/lab3_pong_long.py`, pinned to one core that no other measurement used); its record is "
            f"`mitdeeplearning/assets/pong_agent.csv`. "
            + (f"Its training score (mean of the last 100 games) first reached 0 after {int(beat['agent_steps']):,} "
               f"agent steps, {beat['seconds'] / 60:.0f} min." if beat else "Its training score never reached 0."),
            "",
        ]
    lines += [f"Its evaluation, `evaluate_pong(model, num_games={agent['num_games']}, seed=0)`, "
              + ("full games" if agent["max_steps"] is None else f"{agent['max_steps']} agent steps per game")
              + ", sticky actions:", "", "| actions | mean score | games won | scores |", "|---|---|---|---|"]
    for mode, label in (("sampled", "sampled"), ("greedy", "greedy"), ("random", "a random agent (uniform policy)")):
        if mode in agent:
            e = agent[mode]
            lines.append(f"| {label} | {_pm(e['scores'], sign=True)} | {e['won']} of {agent['num_games']} "
                         f"| {' '.join(f'{x:+d}' for x in e['scores'])} |")
    return lines


def _throughput_lines(speed):
    best, target = speed["best"], speed["target"]
    lines = ["", "Pong rollout collection (env steps per second, `mdl.lab3.collect_rollout` with the notebook's CNN and "
             "`choose_action`):", "",
             "| games | batched collector | the same vector env alone, random actions (ceiling) |", "|---|---|---|"]
    for c in speed["configs"]:
        lines.append(f"| {c['num_games']} | {c['batched']:,.0f} | {c['emulator_only']:,.0f} |")
    return lines + [
        f"| 4, one `model.predict` per game per step (the 2020/21 way) | {speed['per_step_predict']:,.1f} | |",
        "", f"Target ≥ {target:,.0f} env steps/s for the batched collector: **{'met' if best['batched'] >= target else 'not met'}** "
        f"({best['batched']:,.0f} with {best['num_games']} games, against a ceiling of {best['emulator_only']:,.0f} for "
        "the emulators alone on the same cores).",
    ]


def _training_lines(training):
    """Learning included: the notebook's run_pong against the emulators alone, measured in one process,
    and (where measured) what each part of training costs and the rate that allows."""
    if not training:
        return []
    text = (f"Training speed, learning included: the notebook's `run_pong` at its default knobs "
            f"({training['num_games']} games, {training['agent_steps']:,} agent steps) ran at "
            f"**{training['steps_per_s']:,.0f} agent steps/s**, {training['ratio']:.0%} of the "
            f"{training['ceiling_steps_per_s']:,.0f} that the same {training['num_games']} emulators reach alone with random "
            f"actions, measured just before in the same process (1-min load {training['load_average']:.1f}).")
    costs = training.get("costs")
    if costs:
        parts, ceiling = costs["core_ms_per_agent_step"], training["ceiling_steps_per_s"]
        epochs, minibatches = costs["update_rule"].split(" x ")
        text += (f" Where the time goes, in core milliseconds per agent step (CPU time of every thread): the games "
                 f"(emulators and frame preprocessing) {parts['games']:.2f}, the policy's choice {parts['policy']:.2f}, "
                 f"the update {parts['update']:.2f} ({epochs} passes over each batch in {minibatches} minibatches; "
                 f"Part 1's REINFORCE step, one pass, would cost {costs['reinforce_update_core_ms']:.2f}). However well "
                 f"they overlap, {costs['cores']} cores cannot train faster than {costs['bound_steps_per_s']:,.0f} agent "
                 f"steps/s, {costs['bound_steps_per_s'] / ceiling:.0%} of the ceiling; the measured rate is "
                 f"{training['steps_per_s'] / costs['bound_steps_per_s']:.0%} of that bound. The update's passes, which "
                 "make every sample count, are what keeps training far from the ceiling: with REINFORCE's one pass "
                 f"the bound would be {costs['reinforce_bound_steps_per_s'] / ceiling:.0%}.")
    if training.get("machine"):
        text += f" (Measured {common.hardware_line(training['machine'])}.)"
    return ["", text]


def draw_pong_learning(rl, path, band=True):
    """Points won per game against agent steps: the default-budget seeds (with ``band``, over the
    reference the notebook draws, reduced from these runs) and the shipped agent's run."""
    from mitdeeplearning import ontrack

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    if band:
        ontrack.load_reference("lab3.pong", "default").draw(axes[0], x_scale=1e-6)
    for run in rl["pong"]["seeds"]:
        curve = np.asarray(run["curve"], dtype=float)
        if len(curve):
            axes[0].plot(curve[:, 0] / 1e6, curve[:, 2], label=f"seed {run['seed']}")
    random = rl["agent"].get("random", {}).get("points_won")
    if random:
        axes[0].axhline(np.mean(random), color="gray", lw=0.8, ls=":", label="random agent")
    axes[0].set_xlabel("agent steps (millions)")
    axes[0].set_ylabel("points won per game (last 100)")
    axes[0].set_title(f"default budget, {_seeds(len(rl['pong']['seeds']))}", fontsize=9)
    axes[0].legend(fontsize=7)
    record = rl["agent"]["record"]
    if record:
        steps = np.array([r["agent_steps"] for r in record]) / 1e6
        minutes = np.array([r["seconds"] for r in record]) / 60
        score = np.array([r["score"] for r in record])
        axes[1].plot(steps, score, color="tab:green")
        axes[1].axhline(0, color="k", lw=0.8)
        axes[1].set_xlabel("agent steps (millions)")
        axes[1].set_ylabel("score, won − lost (last 100 games)")
        axes[1].set_ylim(-21, 21)
        top = axes[1].secondary_xaxis("top", functions=(lambda x: np.interp(x, steps, minutes),
                                                        lambda m: np.interp(m, minutes, steps)))
        top.set_xticks(list(range(0, int(minutes[-1]) + 1, 10)))
        top.set_xlabel("minutes of training (one CPU core)", fontsize=8)
        axes[1].set_title("the shipped agent's training", fontsize=9, pad=32)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw_pong_minutes(rl, path):
    """Score against minutes of training on 2 cores: the update rules (``updates``) and the long profile's
    seeds (``long``). Returns False (and draws nothing) when neither was measured."""
    runs = [(f"{name}, seed {r['seed']}", r["curve"]) for name, block in (rl.get("updates") or {}).get("variants", {}).items()
            for r in block["seeds"]]
    long = (rl.get("long") or {}).get("seeds", [])
    several = _several_processors(long)  # then each curve names its processor
    runs += [(f"long profile, seed {r['seed']}" + (f" ({r.get('processor', 'processor not recorded')})" if several else ""),
              r["curve"]) for r in long]
    if not runs:
        return False
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for label, curve in runs:
        curve = np.asarray(curve, dtype=float)
        if len(curve):
            ax.plot(curve[:, 1], curve[:, 2], label=label, lw=1.2)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("minutes of training (2 CPU cores)")
    ax.set_ylabel("score, won − lost (last 100 games)")
    ax.set_ylim(-21, 21)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def draw_cartpole_rewards(cartpole, path):
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
        shots = [rl.preprocess_frame(frame)]
        for _ in range(frames):
            frame, *_ = env.step(env.action_space.sample())
            shots.append(rl.preprocess_frame(frame))
    finally:
        env.close()
    fig, axes = plt.subplots(2, frames, figsize=(frames * 1.6, 3.5))
    for j in range(frames):
        axes[0][j].imshow(shots[j + 1][..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1][j].imshow((shots[j + 1] - shots[j])[..., 0], cmap="bwr", vmin=-1, vmax=1)
        for ax in axes[:, j]:
            ax.axis("off")
    axes[0][0].set_title("preprocess_frame(frame)", fontsize=8, loc="left")
    axes[1][0].set_title("frame_change(prev, frame)", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

