"""Lab 3 benchmark, on the solution notebook's own code: Cart-Pole, Pong learning, the shipped agent, speed.

    .venv/bin/python benchmarks/lab3_rl.py                      # everything (about 40 min on 2 cores)
    .venv/bin/python benchmarks/lab3_rl.py --quick              # tiny budgets: tests the code itself
    .venv/bin/python benchmarks/lab3_rl.py --parts pong --seeds 2 --json results/lab3.json
    .venv/bin/python benchmarks/lab3_rl.py --parts cartpole,smoke --write-references   # the bands, minutes

Parts (``--parts``, comma-separated; default all):
  cartpole    the notebook's ``run_cartpole`` per seed (10 seeds): episodes and seconds to
              mean-100 >= 475, and each seed's reward curve.
  pong        the notebook's ``run_pong`` per seed at the ``default`` budget (the parameters
              cell's ``pong_agent_steps``): points won per game and score over the last 100 games,
              and each seed's curve of points won against agent steps.
  smoke       both loops at the notebook's ``smoke`` profile (10 Cart-Pole seeds, 5 Pong seeds):
              the curves the smoke references are reduced from.
  agent       the shipped agent (``mdl.lab3.load_pretrained_pong``): ``evaluate_pong`` over 20
              full games, sampling and greedy, beside a random agent (uniform policy), and its
              training curve (pong_agent.csv).
  training    learning included: agent steps/s of the notebook's ``run_pong`` (default knobs,
              updates and all) over a short budget, as a share of the ceiling, the same number of
              games stepped alone with random actions, measured just before in the same process;
              and the core time per agent step of the games, the policy and the update, with
              the rate they allow on the machine's cores if everything overlapped perfectly.
  throughput  env steps/s of ``mdl.lab3.collect_rollout`` with the notebook's CNN and
              ``choose_action``, beside the same vector env stepped alone with random actions (the
              ceiling), and one ``model.predict`` per game per step (the 2020/21 way, below).
  long        (only when named: 30 min a seed) the notebook's ``run_pong`` at its ``long`` profile
              per seed, for 30 minutes: the agent steps and minutes at which the mean score of
              the last 100 games first goes above 0 (the agent beats the computer), the final
              score, and the curve; with ``--until-beaten`` each seed stops once it has won.
  updates     (only when named: 10 min a variant and seed) the update rules compared at equal wall
              time: the ``long`` profile as written (PPO's clipped objective, several passes over
              each batch) beside Part 1's REINFORCE step (one pass, one minibatch, the Adam step it
              was tuned with), each for 10 minutes; kept in benchmarks/lab3_update_runs.json.
The code under test is loaded from lab3/solutions/RL_Solution.ipynb (its ``reference`` cells, see
mdl_tools.notebook_code) and called as the notebook's own cells call it, with the notebook's knobs,
so these numbers are the notebook's numbers.

The curves kept are the series the notebook's live plots draw: Cart-Pole's reward per episode
under the notebook's moving average (``REWARD_SMOOTHING``), and Pong's mean points won over the
last 100 finished games after each policy update, against agent steps. ``--write-references``
(and ``make bench``) reduces them to the references those plots draw behind the student's curve
and the verdict judges against (``mitdeeplearning/assets/reference/lab3.*.json``), one per part and
profile that ran, each with the knobs it was measured with (``CartPoleConfig.settings()``,
``PongConfig.settings()``). The ``default`` Pong reference takes 5 runs of ~9 min on 2 cores:
``--parts pong --seeds 5 --write-references`` measures it alone.
"""

import argparse
import dataclasses
import functools
import json
import os
import pathlib
import platform
import tempfile
import time

import nbformat
import numpy as np

from mdl_tools import notebook_code, runner
from mdl_tools.bench import common
from mdl_tools.bench.common import format_mean_se, mean_se

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab3" / "solutions" / "RL_Solution.ipynb"
PARTS = ("cartpole", "pong", "agent", "throughput", "training", "smoke")
#: Parts too long for ``make bench``, run only when named: ``long`` is 30 minutes a seed.
EXTRA_PARTS = ("long", "updates")
#: The ``long`` profile's promise: a mean score above 0 over the last 100 games within this many minutes.
LONG_MINUTES = 30
#: Where ``--parts long`` keeps its seeds (merged with the seeds already there), for the report.
LONG_RESULTS = ROOT / "benchmarks" / "lab3_long_runs.json"
#: The update rules the ``updates`` part compares at equal wall time: overrides of the ``long`` profile.
UPDATE_VARIANTS = {
    "PPO, as written": {},
    "REINFORCE, as before": {"pong_update_epochs": 1, "pong_minibatches": 1, "pong_learning_rate": 1e-3},
}
UPDATE_MINUTES = 10
UPDATE_RESULTS = ROOT / "benchmarks" / "lab3_update_runs.json"
#: A reference needs at least this many seeds. Cart-Pole runs 10: when its reward starts to climb
#: varies from seed to seed (after about 100 episodes in some, 300 in others), and 5 seeds showed
#: only the fast ones.
MIN_REFERENCE_SEEDS = 5
#: What the lab promises: points won per game at the default Pong budget (mean over seeds), and the
#: batched collector's speed in env steps per second. Written into the results, which the report quotes.
TARGETS = {"pong_points_won_min": 10.0, "collector_steps_per_s_min": 2500.0}


def load_lab(**parameters):
    return notebook_code.load(NOTEBOOK, parameters=parameters)


def profile_parameters(profile):
    """The notebook's overrides for ``profile`` (none for ``default``)."""
    return runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), profile)


def _seed_list(seeds):
    """``5`` -> seeds 0..4; ``[1, 3]`` -> those seeds."""
    return list(range(seeds)) if isinstance(seeds, int) else list(seeds)


def cartpole(seeds, max_seconds, profile="default"):
    runs = []
    for seed in _seed_list(seeds):
        lab = load_lab(**profile_parameters(profile), seed=seed)
        load = os.getloadavg()[0]  # at the start: a busy machine's seconds are no reference speed
        start = time.perf_counter()
        out_of_time = lambda episode_rewards: time.perf_counter() - start > max_seconds  # noqa: E731
        _, rewards, solved = lab.run_cartpole(lab.cartpole_config, on_episode=out_of_time)
        seconds = time.perf_counter() - start
        steps = int(sum(rewards))
        stopped = not solved and len(rewards) < lab.cartpole_config.max_episodes
        print(f"cartpole ({profile}) seed {seed}: {'solved in %d episodes' % solved if solved else 'NOT solved'}"
              f"{' (stopped at the time limit)' if stopped else ''}, {seconds:.1f} s, {steps} env steps "
              f"({steps / seconds:.0f} steps/s)", flush=True)
        runs.append({"seed": seed, "solved_episode": solved, "seconds": seconds, "env_steps": steps,
                     "stopped_at_time_limit": stopped, "episode_rewards": [float(r) for r in rewards],
                     "load_average": load})
    config = lab.cartpole_config
    settings = {"units": config.hidden_units, "learning_rate": config.learning_rate, "gamma": config.gamma,
                "solved_mean100": config.solved_mean, "max_episodes": config.max_episodes}
    return {"profile": profile, "seeds": runs, "max_seconds": max_seconds, "settings": settings,
            "knobs": config.settings(), "smoothing": lab.REWARD_SMOOTHING}


def _finite_rows(rows, key):
    """Record rows from the first finished game on (before it there is no score to report)."""
    return [r for r in rows if np.isfinite(r[key])]


def pong(seeds, agent_steps=None, num_games=None, profile="default"):
    runs = []
    for seed in _seed_list(seeds):
        overrides = {"pong_agent_steps": agent_steps, "pong_num_games": num_games}
        lab = load_lab(**profile_parameters(profile), seed=seed, **{k: v for k, v in overrides.items() if v})
        points = []  # what the notebook plots: after each update with a finished game, the last 100 games' mean

        def keep_points(steps, seconds, finished):
            if finished["won"]:
                points.append([steps, float(np.mean(finished["won"][-100:]))])

        load = os.getloadavg()[0]  # at the start: a busy machine's seconds are no reference speed
        with tempfile.TemporaryDirectory() as tmp:
            _, record, finished = lab.run_pong(lab.pong_config, tmp, on_update=keep_points)
            rows = record.rows()
        last = rows[-1]
        run = {"seed": seed, "agent_steps": int(last["agent_steps"]), "seconds": last["seconds"],
               "games": len(finished["won"]),
               "points_won": float(np.mean(finished["won"][-100:])),
               "score": float(np.mean(finished["score"][-100:])),
               # the untrained policy's level: the first round of games, one per environment
               "first_games_points_won": float(np.mean(finished["won"][:lab.pong_config.num_games])),
               "curve": [[r["agent_steps"], r["seconds"], r["points_won"]] for r in _finite_rows(rows, "points_won")[::10]],
               "points_curve": points, "load_average": load}
        print(f"pong ({profile}) seed {seed}: {run['agent_steps']:,} agent steps in {run['seconds']:.0f} s "
              f"({run['agent_steps'] / run['seconds']:.0f} steps/s with learning); last {min(100, run['games'])} games: "
              f"{run['points_won']:.2f} points won per game, score {run['score']:+.2f}", flush=True)
        runs.append(run)
    won = mean_se([r["points_won"] for r in runs])
    target = TARGETS["pong_points_won_min"]
    verdict = f"; target >= {target:g}: {'met' if won['mean'] >= target else 'NOT met'}" if profile == "default" else ""
    print(f"PONG {profile} budget ({lab.pong_config.agent_steps:,} agent steps, {lab.pong_config.num_games} games): "
          f"{format_mean_se(won, digits=2)} points won per game over {len(runs)} seed(s){' (± SE)' if won['se'] else ''}"
          f"{verdict}", flush=True)
    settings = {f"pong_{k}": v for k, v in dataclasses.asdict(lab.pong_config).items()
                if k in ("num_games", "agent_steps", "batch_steps", "update_epochs", "minibatches", "clip", "learning_rate",
                         "entropy_bonus", "gamma")}
    return {"profile": profile, "seeds": runs, "points_won": won, "target": target, "settings": settings,
            "knobs": lab.pong_config.settings()}


def long_profile(seeds, minutes=LONG_MINUTES, overrides=None, until_beaten=False):
    """The notebook's ``run_pong`` at its ``long`` profile (and ``overrides``), per seed: when it first beats the computer.

    Beating it means a mean score (won - lost) above 0 over the last 100 finished games. Each seed
    trains for the profile's step budget or ``minutes``, whichever comes first; the run records the
    agent steps and minutes at which the score first went above 0 (None if it never did), the final
    score and points won, and the curve (agent steps, minutes, score) after every 10th update.
    With ``until_beaten`` a seed stops as soon as it beats the computer (its run says so).
    """
    runs = []
    for seed in _seed_list(seeds):
        lab = load_lab(**{**profile_parameters("long"), **(overrides or {})}, seed=seed)
        curve, crossed, updates = [], {}, [0]

        def watch(steps, seconds, finished):
            updates[0] += 1
            if len(finished["score"]) >= 100:
                score = float(np.mean(finished["score"][-100:]))
                if score > 0 and not crossed:
                    crossed.update(agent_steps=steps, minutes=seconds / 60)
                if updates[0] % 10 == 0 or crossed.get("agent_steps") == steps:  # every 10th update, and the crossing
                    curve.append([steps, round(seconds / 60, 2), score])
            return seconds >= minutes * 60 or (until_beaten and bool(crossed))  # the time limit, or the win

        load, machine = os.getloadavg()[0], common.machine_info()  # minutes compare only on one processor
        with tempfile.TemporaryDirectory() as tmp:
            _, record, finished = lab.run_pong(lab.pong_config, tmp, on_update=watch)
            last = record.last()
        run = {"seed": seed, "agent_steps": int(last["agent_steps"]), "minutes": last["seconds"] / 60,
               "score": float(np.mean(finished["score"][-100:])), "points_won": float(np.mean(finished["won"][-100:])),
               "beat_it_at_steps": crossed.get("agent_steps"), "beat_it_at_minutes": crossed.get("minutes"),
               "curve": curve, "load_average": load, "stopped_when_beaten": until_beaten and bool(crossed),
               **{k: machine[k] for k in ("processor", "date")}}
        when = (f"score above 0 after {crossed['agent_steps']:,} agent steps, {crossed['minutes']:.1f} min"
                if crossed else f"score never above 0 within {run['minutes']:.1f} min")
        print(f"pong (long) seed {seed}: {when}; at the end ({run['agent_steps']:,} steps, {run['minutes']:.1f} min) "
              f"score {run['score']:+.2f}, {run['points_won']:.2f} points won per game (1-min load at start {load:.1f})",
              flush=True)
        runs.append(run)
    beaten = sum(1 for r in runs if r["beat_it_at_minutes"] is not None and r["beat_it_at_minutes"] <= minutes)
    print(f"PONG long: {beaten} of {len(runs)} seed(s) beat the computer within {minutes} min", flush=True)
    return {"profile": "long", "minutes": minutes, "seeds": runs, "beaten": beaten,
            "knobs": lab.pong_config.settings()}


def merge_seeds(kept, block):
    """``block`` with the seeds of ``kept`` (an earlier block, or None) it did not measure again.

    Seeds measured with other knobs than ``block``'s are dropped, with a line that says so.
    """
    kept = kept or {"seeds": []}
    old = kept["seeds"] if kept.get("knobs") == block["knobs"] else []
    if kept["seeds"] and not old:
        print(f"dropping {len(kept['seeds'])} earlier seed(s): measured with other knobs")
    new = {r["seed"]: r for r in old} | {r["seed"]: r for r in block["seeds"]}
    runs = [new[s] for s in sorted(new)]
    beaten = sum(1 for r in runs if r["beat_it_at_minutes"] is not None and r["beat_it_at_minutes"] <= block["minutes"])
    return {**block, "seeds": runs, "beaten": beaten}


def keep_long_runs(block, path=LONG_RESULTS):
    """Merge ``block``'s seeds into ``path`` (a seed measured again replaces its old run); return the path.

    The ``long`` part is too long for ``make bench``; the report reads its seeds from this file.
    """
    kept = json.loads(path.read_text()) if path.exists() else None
    path.write_text(json.dumps(merge_seeds(kept, block), indent=1) + "\n")
    return path


def update_rules(seeds, minutes=UPDATE_MINUTES):
    """Each of UPDATE_VARIANTS for ``minutes`` per seed (the ``long`` part's runs, cut short)."""
    blocks = {}
    for name, overrides in UPDATE_VARIANTS.items():
        print(f"update rule: {name}", flush=True)
        blocks[name] = {**long_profile(seeds, minutes=minutes, overrides=overrides), "overrides": overrides}
    return {"minutes": minutes, "variants": blocks}


def keep_update_runs(result, path=UPDATE_RESULTS):
    """Merge the ``updates`` part's seeds into ``path``, variant by variant as keep_long_runs does; return the path."""
    kept = json.loads(path.read_text())["variants"] if path.exists() else {}
    variants = {name: merge_seeds(kept.get(name), block) for name, block in result["variants"].items()}
    variants = {name: variants.get(name, kept.get(name)) for name in UPDATE_VARIANTS if name in variants or name in kept}
    path.write_text(json.dumps({"minutes": result["minutes"], "variants": variants}, indent=1) + "\n")
    return path


def smoke(cartpole_seeds, pong_seeds):
    """Both loops at the notebook's smoke profile: the curves of the references the smoke runs are judged against."""
    return {"cartpole": cartpole(cartpole_seeds, max_seconds=600, profile="smoke"),
            "pong": pong(pong_seeds, profile="smoke")}


def agent(num_games, max_steps=None):
    """The shipped agent's evaluation, sampling and greedy, beside a random agent's (a uniform policy)."""
    import keras

    import mitdeeplearning as mdl

    model = mdl.lab3.load_pretrained_pong()
    uniform = keras.Sequential([keras.Input(model.input_shape[1:]), keras.layers.Flatten(),
                                keras.layers.Dense(model.output_shape[-1], kernel_initializer="zeros")])  # logits all 0
    # the knobs it trained with: the notebook's full profile (benchmarks/lab3_pong_long.py)
    full = runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), "full")
    result = {"num_games": num_games, "max_steps": max_steps, "trained_with": full}
    for mode, policy, greedy in (("sampled", model, False), ("greedy", model, True), ("random", uniform, False)):
        start = time.perf_counter()
        scores = mdl.lab3.evaluate_pong(policy, num_games=num_games, seed=0, greedy=greedy, max_steps=max_steps)
        result[mode] = {"scores": scores.tolist(), "won": int((scores > 0).sum()), "seconds": time.perf_counter() - start}
        if max_steps is None:  # a full game ends when one side has 21 points
            result[mode]["points_won"] = np.where(scores > 0, 21, scores + 21).tolist()
        who = "random agent" if mode == "random" else f"shipped agent, {mode} actions"
        print(f"{who}, {num_games} games: mean {scores.mean():+.2f}, "
              f"won {int((scores > 0).sum())}/{num_games}, scores {scores.tolist()}", flush=True)
    csv = mdl.lab3.PRETRAINED_PONG_RECORD
    rows = _finite_rows(mdl.lab3.TrainingRecord(csv).rows(), "score") if csv.is_file() else []
    result["record"] = [{k: r[k] for k in ("agent_steps", "seconds", "games", "score", "points_won")} for r in rows]
    if result["record"]:
        last = result["record"][-1]
        print(f"its training: {int(last['agent_steps']):,} agent steps in {last['seconds'] / 60:.0f} min", flush=True)
    return result


def collect_rollout_per_step(env_list, model, choose_action, max_steps):
    """The 2020/21 way, as a baseline: each game in turn, one ``model.predict`` per game per step.

    Observations are the lab's frame differences and actions come from the notebook's
    ``choose_action``, as in ``collect_rollout``; only the policy call differs. Returns the number
    of agent steps taken.
    """
    import mitdeeplearning as mdl

    predict = lambda x: model.predict(x, verbose=0)  # noqa: E731
    current = [mdl.lab3.preprocess_frame(env.reset()[0]) for env in env_list]
    previous = list(current)
    done = [False] * len(env_list)
    steps = 0
    for _ in range(max_steps):
        for i, env in enumerate(env_list):
            if done[i]:
                continue
            action = choose_action(predict, current[i] - previous[i])
            frame, _, terminated, truncated, _ = env.step(action)
            done[i] = terminated or truncated
            previous[i], current[i] = current[i], mdl.lab3.preprocess_frame(frame)
            steps += 1
    return steps


def throughput(configs, steps):
    import mitdeeplearning as mdl

    lab = load_lab()
    rates = []
    for num_games in configs:
        envs = mdl.lab3.make_pong_envs(num_games, seed=0)
        try:
            model = lab.create_pong_model(int(envs.single_action_space.n))
            mdl.lab3.collect_rollout(envs, model, lab.choose_action, max_steps=5)  # compile
            start = time.perf_counter()
            trajectories = mdl.lab3.collect_rollout(envs, model, lab.choose_action, max_steps=steps)
            batched = sum(len(t) for t in trajectories) / (time.perf_counter() - start)
            ceiling = emulator_rate(envs, steps)
        finally:
            envs.close()
        rates.append({"num_games": num_games, "batched": batched, "emulator_only": ceiling})
        print(f"{num_games:3d} games: batched collector {batched:7.0f} env steps/s; the same vector env alone, "
              f"random actions: {ceiling:7.0f}", flush=True)
    env_list = [mdl.lab3.make_env(mdl.lab3.PONG_ENV_NAME, seed=s) for s in range(4)]
    try:
        collect_rollout_per_step(env_list, model, lab.choose_action, max_steps=2)
        start = time.perf_counter()
        per_step = collect_rollout_per_step(env_list, model, lab.choose_action, max(5, steps // 20))
        per_step /= time.perf_counter() - start
    finally:
        for env in env_list:
            env.close()
    best = max(rates, key=lambda r: r["batched"])
    target = TARGETS["collector_steps_per_s_min"]
    print(f"THROUGHPUT best {best['batched']:.0f} env steps/s ({best['num_games']} games; ceiling "
          f"{best['emulator_only']:.0f}) vs per-step predict {per_step:.1f}; target {target:g}: "
          f"{'met' if best['batched'] >= target else 'NOT met'}", flush=True)
    return {"configs": rates, "best": best, "per_step_predict": per_step, "steps": steps, "target": target}


def emulator_rate(envs, steps):
    """Env steps/s of the open vector env ``envs`` stepped alone with random actions: what no training can beat."""
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    num_games = envs.num_envs
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.integers(0, 6, num_games))
    return num_games * steps / (time.perf_counter() - start)


def _core_ms(work, count):
    """CPU time of the whole process (every thread) per item while ``work()`` handles ``count`` items."""
    start = time.process_time()
    work()
    return 1000 * (time.process_time() - start) / count


def training_costs(lab, config, batches=3):
    """Core milliseconds per agent step of each part of Pong training, at the notebook's knobs.

    Training does three kinds of work per agent step: the emulators play it (and the frames are
    preprocessed), the policy chooses its action, and the update learns from it (``update_policy``
    on a batch of ``config.batch_steps`` steps, once per batch). However well they overlap, two cores
    cannot train faster than ``2000 / (sum of the three)`` agent steps/s: the bound that the measured
    training rate is compared with. The update is also timed as Part 1's REINFORCE step (one pass, one
    minibatch) to show what the passes cost. Real frames: the batch is collected by the notebook's
    games with random actions.
    """
    import mitdeeplearning as mdl

    rng = np.random.default_rng(0)
    games = mdl.lab3.PongGames(config.num_games)
    observations = []
    try:
        steps = games.play(lambda obs: rng.integers(0, 6, len(obs)), seed=0)
        next(steps)  # resetting the games takes seconds, once per training run: not a cost per step

        def play():
            for step in steps:
                observations.extend(step.observations)
                if len(observations) >= batches * config.batch_steps:
                    break

        games_ms = _core_ms(play, batches * config.batch_steps)
        steps.close()
    finally:
        games.close()
    observations = np.stack(observations[:config.batch_steps])
    model = lab.create_pong_model(6)
    policy = mdl.lab3.CompiledPolicy(model)
    half = observations[:max(1, config.num_games // 2)]
    policy(half)  # traced once, as in training
    policy_ms = _core_ms(lambda: [policy(half) for _ in range(200)], 200 * len(half))

    split = mdl.lab3.SplitBatch(model)  # as train_pong hands the model to update_policy

    def update_ms(epochs, minibatches):
        import keras

        variant = dataclasses.replace(config, update_epochs=epochs, minibatches=minibatches)
        optimizer = keras.optimizers.Adam(config.learning_rate)
        optimizer.build(model.trainable_variables)  # as run_pong does: no variables created inside train_step
        actions = rng.integers(0, 6, len(observations)).astype(np.int32)
        advantages = rng.standard_normal(len(observations)).astype(np.float32)
        loss = functools.partial(lab.pong_loss, clip=config.clip, entropy_bonus=config.entropy_bonus)
        run_once = lambda: lab.update_policy(split, loss, optimizer, variant, rng, observations, actions, advantages)  # noqa: E731
        run_once()  # traced once, as in training
        return _core_ms(lambda: [run_once() for _ in range(batches)], batches * len(observations))

    parts = {"games": games_ms, "policy": policy_ms, "update": update_ms(config.update_epochs, config.minibatches)}
    reinforce = update_ms(1, 1)
    cores = os.cpu_count()
    bound = 1000 * cores / sum(parts.values())
    return {"core_ms_per_agent_step": parts, "reinforce_update_core_ms": reinforce, "cores": cores,
            "bound_steps_per_s": bound,
            "reinforce_bound_steps_per_s": 1000 * cores / (parts["games"] + parts["policy"] + reinforce),
            "update_rule": f"{config.update_epochs} x {config.minibatches}"}


def training_throughput(agent_steps, cost_batches=3):
    """The notebook's ``run_pong`` at its default knobs for ``agent_steps``, against the emulator ceiling.

    The ceiling runs first, in the same process and with the same emulator threads, so that the two
    share one machine state; then what each part of training costs (``training_costs``) and the bound
    that puts on the rate, then the training itself. Returns the rates, their ratio and the costs.
    """
    lab = load_lab(pong_agent_steps=agent_steps)
    config = lab.pong_config
    import mitdeeplearning as mdl

    envs = mdl.lab3.make_pong_envs(config.num_games, seed=0)
    try:
        ceiling = emulator_rate(envs, max(200, agent_steps // (4 * config.num_games)))
    finally:
        envs.close()
    costs = training_costs(lab, config, batches=cost_batches)
    parts = costs["core_ms_per_agent_step"]
    print(f"COSTS per agent step, core ms: games {parts['games']:.3f}, policy {parts['policy']:.3f}, update "
          f"{parts['update']:.3f} ({costs['update_rule']}; REINFORCE's 1 x 1: {costs['reinforce_update_core_ms']:.3f}); "
          f"on {costs['cores']} cores at most {costs['bound_steps_per_s']:,.0f} agent steps/s = "
          f"{costs['bound_steps_per_s'] / ceiling:.0%} of the ceiling (REINFORCE: "
          f"{costs['reinforce_bound_steps_per_s'] / ceiling:.0%})", flush=True)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        _, record, _ = lab.run_pong(config, tmp)
        last = record.last()
    rate = float(last["agent_steps"]) / float(last["seconds"])
    print(f"TRAINING {config.num_games} games: run_pong {rate:,.0f} agent steps/s with learning over "
          f"{int(last['agent_steps']):,} steps; emulators alone {ceiling:,.0f}; ratio {rate / ceiling:.0%}, "
          f"{rate / costs['bound_steps_per_s']:.0%} of the bound (1-min load {load:.1f} on {os.cpu_count()} cores)",
          flush=True)
    return {"num_games": config.num_games, "agent_steps": int(last["agent_steps"]), "seconds": float(last["seconds"]),
            "steps_per_s": rate, "ceiling_steps_per_s": ceiling, "ratio": rate / ceiling, "load_average": load,
            "costs": costs, "machine": common.machine_info()}


def run(quick=False, seeds=None, parts=PARTS, until_beaten=False):
    """Run the chosen parts; print as it goes and return the numbers as a dict (``mitdeeplearning bench``)."""
    import keras
    import tensorflow as tf

    machine = {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "tensorflow": tf.__version__, "keras": keras.__version__}
    print(f"machine: {machine['cpu_count']} CPU cores, {machine['processor']}, TF {tf.__version__}, "
          f"Keras {keras.__version__}; load average {os.getloadavg()[0]:.1f}", flush=True)
    result = {"quick": quick, "machine": machine}
    if "cartpole" in parts:
        result["cartpole"] = cartpole(seeds or (1 if quick else 10), max_seconds=20 if quick else 240)
    if "pong" in parts:
        # quick: 2 games for 2,400 steps, so that a few games finish and have a score
        result["pong"] = pong(seeds or (1 if quick else 5), agent_steps=2400 if quick else None,
                              num_games=2 if quick else None)
    if "agent" in parts:
        result["agent"] = agent(2 if quick else 20, max_steps=200 if quick else None)
    if "training" in parts:
        result["training"] = training_throughput(4_000 if quick else 200_000, cost_batches=1 if quick else 3)
    if "throughput" in parts:
        result["throughput"] = throughput((4,) if quick else (16, 32, 64), steps=30 if quick else 300)
    if "smoke" in parts:
        result["smoke"] = smoke(seeds or (1 if quick else 10), seeds or (1 if quick else 5))
    if "long" in parts:
        result["long"] = long_profile(seeds or (1 if quick else 5), minutes=0.5 if quick else LONG_MINUTES,
                                      until_beaten=until_beaten)
    if "updates" in parts:
        result["updates"] = update_rules(seeds or 1, minutes=0.5 if quick else UPDATE_MINUTES)
    return result


#: Whether the solution learns within each profile's budget. The smoke budgets prove the code paths
#: run (Cart-Pole: 20 episodes; Pong: 4,000 agent steps, a few games), long before any seed learns:
#: their references draw where correct runs lie, and the verdict asks for a longer budget.
LEARNS_WITHIN = {"default": True, "smoke": False}


def write_training_references(results, directory=None):
    """Reduce the seeds' curves of every part that ran to the references the notebook's plots draw.

    One reference per loop and profile measured (``cartpole`` and ``pong``: default; ``smoke``:
    both at smoke), written by ``mdl_tools.bench.reference`` into
    ``mitdeeplearning/assets/reference`` (or ``directory``). Returns the paths. Raises ValueError for
    a quick run, a part with fewer than MIN_REFERENCE_SEEDS seeds, or a Cart-Pole seed cut short by
    the time limit: a reference must be what the notebook's own runs do at that profile.
    """
    from mdl_tools.bench import reference

    if results.get("quick"):
        raise ValueError("a --quick run's budgets are not the notebook's: references come from full runs")
    blocks = [("lab3.cartpole", results.get("cartpole")), ("lab3.pong", results.get("pong"))]
    if results.get("smoke"):
        blocks += [("lab3.cartpole", results["smoke"]["cartpole"]), ("lab3.pong", results["smoke"]["pong"])]
    blocks = [(loop, block) for loop, block in blocks if block]
    if not blocks:
        raise ValueError("no cartpole, pong or smoke results to write references from")
    machine = common.machine_info()
    paths = []
    for loop, block in blocks:
        profile = block["profile"]
        reference.enough_seeds(loop, profile, block["seeds"], MIN_REFERENCE_SEEDS)
        build = _cartpole_reference if loop == "lab3.cartpole" else _pong_reference
        data = reference.build_reference(loop, profile, settings=block["knobs"], machine=machine,
                                         learns=LEARNS_WITHIN[profile], **build(block))
        paths.append(reference.write_reference(data, directory))
    return paths


def _cartpole_reference(block):
    """Cart-Pole's curves: the notebook's smoothed reward per episode (episodes 1, 2, ...); training stops once solved."""
    from mdl_tools.bench import reference
    from mitdeeplearning.util import LossHistory

    runs = block["seeds"]
    cut = [r["seed"] for r in runs if r["stopped_at_time_limit"]]
    if cut:
        raise ValueError(f"Cart-Pole seed(s) {cut} stopped at the time limit ({block['max_seconds']} s), "
                         "neither solved nor at cartpole_max_episodes: their curves are not the notebook's")
    curves = {}
    for r in runs:
        smoothed = LossHistory(block["smoothing"])
        for reward in r["episode_rewards"]:
            smoothed.append(reward)
        curves[r["seed"]] = (list(range(1, len(smoothed) + 1)), smoothed.get())
    return dict(
        curves=curves, x_label="episode", x_unit="episode", y_label="reward", y_unit="steps balanced",
        y_series=f"LossHistory({block['smoothing']}) of the reward per episode (the notebook's smoothed curve)",
        after_end="hold",  # a solved run stops: it keeps its level
        # a random policy's level: the first ten episodes' mean reward, median over the seeds
        start=float(np.median([np.mean(r["episode_rewards"][:10]) for r in runs])),
        seconds_per_unit=reference.calm_speed([r["seconds"] for r in runs], [r["env_steps"] for r in runs],
                                              [r.get("load_average") for r in runs], f"lab3.cartpole ({block['profile']})"),
        speed_unit="environment step")


def _pong_reference(block):
    """Pong's curves: mean points won over the last 100 finished games after each update, against agent steps."""
    from mdl_tools.bench import reference

    runs = block["seeds"]
    empty = [r["seed"] for r in runs if len(r["points_curve"]) < 2]
    if empty:
        raise ValueError(f"Pong seed(s) {empty} finished fewer than two updates after a game ended: no curve")
    return dict(
        curves={r["seed"]: tuple(zip(*r["points_curve"])) for r in runs},
        x_label="agent steps", x_unit="agent step", y_label="points won per game", y_unit="points",
        y_series="mean points won per game over the last 100 finished games, after each policy update",
        after_end="drop",
        start=float(np.median([r["first_games_points_won"] for r in runs])),  # about a random agent's
        seconds_per_unit=reference.calm_speed([r["seconds"] for r in runs], [r["agent_steps"] for r in runs],
                                              [r.get("load_average") for r in runs], f"lab3.pong ({block['profile']})"),
        speed_unit="agent step")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, to test the code")
    parser.add_argument("--seeds", default=None,
                        help="seeds for cartpole, pong and smoke: a count (default 10 for Cart-Pole, 5 for Pong; "
                             "quick 1) or a list such as 1,3")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)} (default: all), or {','.join(EXTRA_PARTS)}")
    parser.add_argument("--until-beaten", action="store_true",
                        help="long: stop each seed once it beats the computer (its minutes and steps to score 0 "
                             "are measured all the same; the final score is then the one at that moment)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the results here")
    parser.add_argument("--write-references", action="store_true",
                        help="write the references of the parts run into mitdeeplearning/assets/reference")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS) - set(EXTRA_PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS + EXTRA_PARTS)}")
    seeds = None
    if args.seeds:
        seeds = [int(x) for x in args.seeds.split(",") if x] if "," in args.seeds else int(args.seeds)
    if args.write_references and (args.quick or not {"cartpole", "pong", "smoke"} & set(parts)):
        parser.error("--write-references needs a full run (no --quick) of cartpole, pong or smoke")
    result = run(quick=args.quick, seeds=seeds, parts=parts, until_beaten=args.until_beaten)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if "long" in result and not args.quick:
        print(f"long-profile seeds kept in {keep_long_runs(result['long']).relative_to(ROOT)} for the report")
    if "updates" in result and not args.quick:
        print(f"update-rule runs kept in {keep_update_runs(result['updates']).relative_to(ROOT)} for the report")
    if args.write_references:
        for path in write_training_references(result):
            print(f"reference for the notebook's live plot and verdict written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
