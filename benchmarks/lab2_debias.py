"""Lab 2 part 2 benchmark: does the DB-VAE reduce the skin-tone gap, and is it the resampling that helps?

It measures the solution notebook's own code: the cells of
``lab2/solutions/Part2_Debiasing_Solution.ipynb`` tagged ``reference`` (data, training loops, VAE
loss, DB-VAE, resampling probabilities), loaded with ``mdl_tools.notebook_code`` and the notebook's
parameters cell, overridden only where an option says so. It calls the notebook's functions as the
notebook does, handing them the notebook's ``settings`` (one per density estimator). For each seed,
at the notebook's ``default`` budget (same data, batch, steps, learning rate), it trains and
evaluates on the balanced synthetic test set:

* ``cnn``        the standard classifier, uniform sampling;
* ``vae``        the DB-VAE architecture with uniform sampling (the ablation);
* ``dbvae``      the DB-VAE with the course's per-dimension histogram weights (max over dimensions,
                 ``density_components = None``);
* ``dbvae_pca1`` our variant: the histogram on the first principal direction of the latent means
                 (the notebook's default, ``density_components = 1``);
* ``oracle``     the standard classifier with darker faces given ``oracle_share`` of the face draws
                 (labels used).

It reports, per model and seed, the face recall of the four groups (``faces.GROUPS`` order), the
lighter-minus-darker gap, accuracy, the darker groups' recall and (for the resamplers) the darker
faces' share of the face draws; then per model the mean ± standard error over seeds, the lab's
four targets, and how often the lesson holds in a single run: on how many seeds the notebook's
DB-VAE (``dbvae_pca1``) has a smaller gap than the standard CNN, and the CNN's own gap is at least
:data:`LESSON` ``["cnn_gap_min"]`` points. By default it measures :data:`FRESH_SEEDS` (166-185), the
seeds that judged the notebook's settings (100-119 served to choose the learning-rate schedule,
120-139 to compare resampling intervals, 140-159 and the DB-VAE alone on 160-165 to choose the KL
weight; the next tuning should start from seed 186).

A seed means a result: like the notebook's reproducibility cell, the benchmark fixes TensorFlow's
threads per operation (the notebook's ``cpu_threads``) and turns on op determinism, and
``reseed(seed)`` (the notebook's) restores every random state before each model. To prove it, it
trains the first seed's CNN and DB-VAE a second time and compares every number
(``reproducibility`` in the results).

Two entry points:

* ``run(quick=False, seeds=None, **options) -> dict``: JSON-serialisable results (what
  ``mitdeeplearning bench`` calls);
* the command line (``main()``), which prints the same as a table:

    .venv/bin/python benchmarks/lab2_debias.py                                       # seeds 166-185, 1-2 min per seed on 2 idle cores
    .venv/bin/python benchmarks/lab2_debias.py --quick                               # 2 seeds, tiny data: a plumbing test (< 2 min)
    .venv/bin/python benchmarks/lab2_debias.py --seeds 3,4 --json results/b.json     # seeds 3 and 4 ("4," = seed 4 only); save the dict
    .venv/bin/python benchmarks/lab2_debias.py --write-reference                     # also update the notebook's spread over seeds
    .venv/bin/python benchmarks/lab2_debias.py --profile-references smoke            # only the smoke profile's loss bands (5 seeds, a minute)
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # the notebook's progress bars; run(verbose=True) prints a line per model

import numpy as np  # noqa: E402

from mdl_tools.bench.common import TARGETS, format_mean_se, mean_se  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab2" / "solutions" / "Part2_Debiasing_Solution.ipynb"
#: the per-seed gaps the notebook's results cell shows its reader (written by ``--write-reference``)
REFERENCE = ROOT / "mitdeeplearning" / "assets" / "lab2_debias_seeds.json"

#: the report's seeds: they judged the notebook's settings (its KL weight chosen on earlier seeds)
FRESH_SEEDS = list(range(166, 186))
#: the lab's targets (mdl_tools.bench.common.TARGETS, their one home)
TARGET = TARGETS["lab2_debias"]
#: the notebook's DB-VAE (density_components = 1) and the model it must beat
LESSON = {"dbvae": "dbvae_pca1", "cnn": "cnn", "cnn_gap_min": TARGET["cnn_gap_min"]}

#: what each model name means: "classifier" = the standard CNN, "dbvae" = the DB-VAE architecture
MODELS = {
    "cnn": {"kind": "classifier", "label": "standard CNN"},
    "vae": {"kind": "dbvae", "debias": False, "label": "VAE, uniform sampling (ablation)"},
    "dbvae": {"kind": "dbvae", "debias": True, "n_components": None, "label": "DB-VAE, histogram (course: max over dims)"},
    "dbvae_pca1": {"kind": "dbvae", "debias": True, "n_components": 1,
                   "label": "DB-VAE, histogram on 1st principal direction"},
    "oracle": {"kind": "classifier", "oracle": True, "label": "oracle CNN (darker faces get oracle_share, labels)"},
}
DEFAULT_MODELS = ("cnn", "vae", "dbvae", "dbvae_pca1", "oracle")

#: option of run() -> the name in the notebook's parameters cell it overrides (defaults: that cell)
PARAMETERS = {
    "steps": "train_steps",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "latent_dim": "latent_dim",
    "kl_weight": "kl_weight",
    "warmup_steps": "warmup_steps",
    "resample_every": "resample_every",
    "bins": "bins",
    "smoothing": "smoothing",
    "oracle_share": "oracle_share",
    "cpu_threads": "cpu_threads",
}
#: the same for the synthetic data (reported under settings["data"])
DATA_PARAMETERS = {
    "n_train_faces": "n_train_faces",
    "n_train_nonfaces": "n_train_nonfaces",
    "n_test_per_group": "n_test_per_group",
    "darker_fraction": "darker_fraction",
    "seed": "data_seed",
}

#: ``run(quick=True)``: the same code paths on tiny data, for plumbing tests (< 2 minutes)
QUICK = {"seeds": 2, "steps": 20, "warmup_steps": 6, "resample_every": 7,
         "n_train_faces": 600, "n_train_nonfaces": 600, "n_test_per_group": 25}

def _seed_list(seeds, default):
    if seeds is None:
        seeds = default
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
        return list(range(seeds))
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is an empty list: give at least one seed")
    return seeds


def _overrides(quick, options):
    """(models, the notebook parameters to override) from ``run``'s options; unknown options are errors."""
    models = options.pop("models", DEFAULT_MODELS)
    models = list(models.split(",") if isinstance(models, str) else models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; valid: {list(MODELS)}")
    names = {**PARAMETERS, **DATA_PARAMETERS}
    values = {k: v for k, v in QUICK.items() if k != "seeds"} if quick else {}
    for key, value in options.items():
        if key not in names:
            raise TypeError(f"unknown option {key!r}; valid: {sorted(names) + ['models', 'reproduce', 'verbose']}")
        values[key] = value
    return models, {names[k]: v for k, v in values.items()}


def _settings(module, models):
    """What was measured, read back from the loaded notebook (its defaults plus the overrides)."""
    settings = {k: getattr(module, name) for k, name in PARAMETERS.items()}
    settings["data"] = {k: getattr(module, name) for k, name in DATA_PARAMETERS.items()}
    settings["models"] = models
    return settings


def _make_reproducible(cpu_threads, seed):
    """What the notebook's reproducibility cell does; returns whether op determinism was on before."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    current = tf.config.threading.get_intra_op_parallelism_threads()
    if current != cpu_threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cpu_threads)
        except RuntimeError as exc:
            raise RuntimeError(
                f"TensorFlow has already run here with {current or 'one thread per core'} threads per operation, so "
                f"the benchmark cannot use cpu_threads={cpu_threads}: run it in a fresh Python process (as the command "
                f"line and mitdeeplearning bench do), or pass cpu_threads={current}") from exc
    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    return was_on


def _lesson(models):
    """Per seed, and as shares of seeds: does one run show the lab's lesson?"""
    if LESSON["dbvae"] not in models or LESSON["cnn"] not in models:
        return None
    cnn = {r["seed"]: r["gap"] for r in models[LESSON["cnn"]]["runs"]}
    per_seed = []
    for r in models[LESSON["dbvae"]]["runs"]:
        if r["seed"] not in cnn:
            continue
        smaller = r["gap"] < cnn[r["seed"]]
        biased = cnn[r["seed"]] >= LESSON["cnn_gap_min"]
        per_seed.append({"seed": r["seed"], "cnn_gap": cnn[r["seed"]], "dbvae_gap": r["gap"],
                         "dbvae_smaller": smaller, "cnn_biased": biased, "holds": smaller and biased})
    n = len(per_seed)
    count = {k: sum(s[k] for s in per_seed) for k in ("dbvae_smaller", "cnn_biased", "holds")}
    return {"dbvae": LESSON["dbvae"], "cnn_gap_min": LESSON["cnn_gap_min"], "seeds": n, "per_seed": per_seed,
            "target_share": TARGET["lesson_seeds_share_min"],
            **{k: {"count": v, "share": v / n if n else None} for k, v in count.items()}}


def _orderings(models):
    """For each pair (a, b) of models: on how many seeds a's gap is below b's (paired by seed)."""
    out = {}
    names = list(models)
    for a in names:
        for b in names:
            if a == b:
                continue
            pairs = _paired(models[b]["runs"], models[a]["runs"])
            if pairs:
                below = sum(ra["gap"] < rb["gap"] for rb, ra in pairs)
                out[f"{a}<{b}"] = {"count": below, "seeds": len(pairs)}
    return out


def _verdicts(models):
    """The lab's four targets, from the per-model results (None where a model was not run)."""
    out = {}
    runs = {name: m["runs"] for name, m in models.items()}
    if "cnn" in runs:
        cnn_gap = mean_se([r["gap"] for r in runs["cnn"]])
        out["cnn_gap"] = {"value": cnn_gap["mean"], "se": cnn_gap["se"], "target": f">= {TARGET['cnn_gap_min']:g} points",
                          "met": cnn_gap["mean"] is not None and cnn_gap["mean"] >= TARGET["cnn_gap_min"]}
    for name in [m for m in runs if m.startswith("dbvae")]:
        v = {}
        if "cnn" in runs:
            cnn_gap = mean_se([r["gap"] for r in runs["cnn"]])["mean"]
            gap = mean_se([r["gap"] for r in runs[name]])["mean"]
            cut = 100.0 * (1.0 - gap / cnn_gap) if cnn_gap and cnn_gap > 0 else None
            v["gap_cut"] = {"value": cut, "target": f">= {TARGET['gap_cut_min']:g} %",
                            "met": cut is not None and cut >= TARGET["gap_cut_min"],
                            "note": None if cut is not None else "the CNN has no positive gap to cut"}
            pairs = _paired(runs["cnn"], runs[name])
            acc = mean_se([100.0 * (r["accuracy"] - c["accuracy"]) for c, r in pairs])
            v["accuracy_vs_cnn"] = {"value": acc["mean"], "se": acc["se"],
                                    "target": f">= -{TARGET['accuracy_drop_max']:g} points",
                                    "met": acc["mean"] is not None and acc["mean"] >= -TARGET["accuracy_drop_max"]}
        if "vae" in runs:
            pairs = _paired(runs["vae"], runs[name])
            diff = mean_se([100.0 * (r["darker_recall"] - u["darker_recall"]) for u, r in pairs])
            v["darker_recall_vs_uniform_vae"] = {
                "value": diff["mean"], "se": diff["se"], "target": "> 1 standard error (paired over seeds)",
                "met": diff["mean"] is not None and diff["se"] is not None and diff["mean"] > diff["se"]}
        out[name] = v
    return out


def _paired(a, b):
    by_seed = {r["seed"]: r for r in a}
    return [(by_seed[r["seed"]], r) for r in b if r["seed"] in by_seed]


def _log(verbose, *args):
    if verbose:
        print(*args, flush=True)


def run(quick=False, seeds=None, **options):
    """Train and evaluate the models over seeds with the notebook's code; return a JSON-serialisable dict.

    Parameters
    ----------
    quick : bool
        Tiny data and budget (:data:`QUICK`): exercises every code path in under 2 minutes; its
        numbers mean nothing.
    seeds : None, int or list of int
        None: :data:`FRESH_SEEDS` (166-185; seeds 0 and 1 when ``quick``); an int n: seeds 0..n-1;
        a list: those seeds.
    **options
        ``models`` (comma string or list of :data:`MODELS` names), overrides of the notebook's
        parameters (:data:`PARAMETERS`: ``steps``, ``latent_dim``, ``warmup_steps``,
        ``resample_every``, ``bins``, ``smoothing``, ...) and of its synthetic data
        (:data:`DATA_PARAMETERS`: ``darker_fraction``, ``n_train_faces``, ...);
        ``cpu_threads`` (TensorFlow's threads per operation; default the notebook's: it must be
        settable, so call run() in a process where TensorFlow has not run yet, or pass the count it
        runs with); ``reproduce=False`` skips training the first seed twice;
        ``verbose=True`` prints one line per model and seed.

    Returns
    -------
    dict
        ``settings`` (budget, seeds, data parameters), ``groups`` (:data:`faces.GROUPS`),
        ``models`` (per model: ``label``, ``runs`` = one dict per seed with ``recall`` (four groups),
        ``gap``, ``accuracy``, ``nonface_accuracy``, ``darker_recall``, ``darker_share``,
        ``seconds``; and ``summary`` = mean and standard error over seeds of each), ``targets``
        (the lab's four, with ``met`` flags), ``lesson`` (per seed and as counts: the notebook's
        DB-VAE below the CNN, the CNN's gap >= 10, both), ``orderings`` (``"a<b"``: on how many seeds
        model a's gap is below model b's), ``reproducibility`` (the first seed trained again:
        ``identical`` and any ``differences``), ``data_path``, ``seconds``; each run also has
        ``probability`` (mean face probability per group) and ``load_average`` (1-minute, at its start).
        Recall, accuracy and share are fractions in [0, 1]; gaps are percentage points.
    """
    verbose = bool(options.pop("verbose", False))
    reproduce = bool(options.pop("reproduce", True))
    model_names, overrides = _overrides(quick, options)
    seed_list = _seed_list(seeds, QUICK["seeds"] if quick else FRESH_SEEDS)

    start = time.perf_counter()
    from mdl_tools import notebook_code

    cpu_threads = notebook_code.parameters(NOTEBOOK, overrides)["cpu_threads"]
    determinism_was_on = _make_reproducible(cpu_threads, seed_list[0])
    try:
        results = _run(quick, seed_list, model_names, overrides, reproduce, verbose)
    finally:
        if not determinism_was_on:  # leave a calling process (a pytest run) as it was
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
    results["seconds"] = time.perf_counter() - start
    return results


def _train_and_evaluate(name, seed, code):
    """One model of one seed, trained and evaluated with the notebook's code: a dict of its numbers."""
    from mitdeeplearning import lab2

    spec, darker, steps = MODELS[name], code.train_darker, code.settings.steps
    code.reseed(seed, code.loader)  # as the notebook does before each model
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    if spec["kind"] == "classifier":
        model = lab2.make_standard_classifier()
        p = lab2.oracle_probabilities(darker, code.oracle_share) if spec.get("oracle") else None
        history = code.train_classifier(model, code.loader, code.settings, p_pos=p, title=name)
        curve = history.get()
        predict = (lambda m: lambda x: m(x, training=False))(model)
        share = float(p[darker].sum()) if p is not None else float(darker.mean())
    else:
        settings = dataclasses.replace(code.settings, density_components=spec.get("n_components", 1))
        model = code.DB_VAE(code.latent_dim)
        losses, history = code.train_dbvae(model, code.loader, settings, debias=spec["debias"], title=name)
        curve = _smoothed(losses)
        predict = model.predict
        # share of the face draws over the whole run: uniform during the warm-up
        uniform = float(darker.mean())
        shares = [float(p[darker].sum()) for _, p in history]
        bounds = [s for s, _ in history] + [steps]
        weighted = uniform * (bounds[0] if history else steps)
        weighted += sum(sh * (b1 - b0) for sh, b0, b1 in zip(shares, bounds[:-1], bounds[1:]))
        share = weighted / steps
    train_seconds = time.perf_counter() - t0
    r = lab2.evaluate_groups(predict, code.test_images, code.test_labels, code.test_groups)
    return {
        "seed": seed,
        "recall": [float(v) for v in r["recall"]],
        "probability": [float(v) for v in r["probability"]],
        "gap": float(r["gap"]),
        "accuracy": float(r["accuracy"]),
        "nonface_accuracy": float(r["nonface_accuracy"]),
        "darker_recall": float(np.mean(r["recall"][2:])),
        "darker_share": float(share),
        "seconds": time.perf_counter() - t0,
        "train_seconds": train_seconds,
        "load_average": float(load),
        # the loss the notebook's live plot draws (LossHistory's moving average), one value per step
        "loss_curve": [float(v) for v in curve],
    }


def _smoothed(losses):
    """The notebook's LossHistory over a list of raw losses (what its plot of the DB-VAE draws)."""
    from mitdeeplearning.util import LossHistory

    history = LossHistory(smoothing_factor=0.95)
    for value in losses:
        history.append(value)
    return history.get()


def _run(quick, seed_list, model_names, overrides, reproduce, verbose):
    import keras
    import tensorflow as tf

    from mdl_tools import notebook_code
    from mitdeeplearning import faces

    start = time.perf_counter()
    nb = notebook_code.load(NOTEBOOK, parameters={**overrides, "compile_steps": True})
    settings = _settings(nb, model_names)
    settings["seeds"], settings["quick"] = seed_list, bool(quick)
    settings["machine"] = {"cpu_threads_per_op": tf.config.threading.get_intra_op_parallelism_threads(),
                           "cores": os.cpu_count(), "processor": _processor(), "tensorflow": tf.__version__,
                           "keras": keras.__version__, "numpy": np.__version__}
    darker = nb.train_darker
    _log(verbose, f"data: {pathlib.Path(nb.data_path).name}, loaded with the notebook's code in {time.perf_counter() - start:.1f} s")
    _log(verbose, f"{len(nb.loader.pos_train_inds)} training faces, {darker.mean():.1%} darker; {settings['steps']} steps, "
                  f"batch {settings['batch_size']}, latent {settings['latent_dim']}, seeds {settings['seeds']}")

    models = {name: {"label": MODELS[name]["label"], "runs": []} for name in model_names}
    for seed in seed_list:
        for name in model_names:
            entry = _train_and_evaluate(name, seed, nb)
            models[name]["runs"].append(entry)
            _log(verbose, f"seed {seed} {name:>10}: recall {' '.join(f'{100 * v:5.1f}' for v in entry['recall'])} "
                          f"| gap {entry['gap']:+5.1f} | acc {100 * entry['accuracy']:.1f} "
                          f"| darker share {100 * entry['darker_share']:.1f} % | {entry['seconds']:.0f} s "
                          f"| load {entry['load_average']:.1f}")

    reproducibility = None
    if reproduce:
        # the same seed again, after every other run of this process: every number must repeat exactly
        seed = seed_list[0]
        again = [n for n in (LESSON["cnn"], LESSON["dbvae"]) if n in model_names] or model_names[:1]
        differences = {}
        for name in again:
            first, second = models[name]["runs"][0], _train_and_evaluate(name, seed, nb)
            for key in ("recall", "probability", "gap", "accuracy", "nonface_accuracy", "darker_share"):
                if first[key] != second[key]:
                    differences[f"{name}.{key}"] = [first[key], second[key]]
        reproducibility = {"seed": seed, "models": again, "identical": not differences, "differences": differences}

    for m in models.values():
        keys = ("gap", "accuracy", "nonface_accuracy", "darker_recall", "darker_share", "seconds")
        m["summary"] = {k: mean_se([r[k] for r in m["runs"]]) for k in keys}
        m["summary"]["recall"] = [mean_se([r["recall"][g] for r in m["runs"]]) for g in range(len(faces.GROUPS))]
    nb.loader.close()
    return {
        "benchmark": "lab2_debias",
        "notebook": str(NOTEBOOK.relative_to(NOTEBOOK.parents[2])),
        "settings": settings,
        "groups": list(faces.GROUPS),
        "data_path": str(nb.data_path),
        "darker_fraction_measured": float(darker.mean()),
        "models": models,
        "targets": _verdicts(models),
        "lesson": _lesson(models),
        "orderings": _orderings(models),
        "reproducibility": reproducibility,
        "seconds": time.perf_counter() - start,
    }


def _processor():
    """The CPU's model name (what decides the vector instructions TensorFlow's kernels use)."""
    cpuinfo = pathlib.Path("/proc/cpuinfo")  # Linux; elsewhere platform's answer
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def write_reference(results, path=REFERENCE):
    """Save the per-seed gaps that the notebook's results cell puts beside the reader's own run."""
    if results["settings"]["quick"]:
        raise ValueError("a --quick run measures nothing: write the reference from a full run")
    settings = results["settings"]
    # in the notebook's own names, so that the notebook can tell a reader whose knobs differ
    parameters = {PARAMETERS[k]: settings[k] for k in PARAMETERS}
    parameters.update({DATA_PARAMETERS[k]: settings["data"][k] for k in DATA_PARAMETERS})
    parameters["compile_steps"] = True  # the benchmark always compiles the training steps
    reference = {
        "benchmark": "benchmarks/lab2_debias.py",
        "seeds": settings["seeds"],
        "machine": settings["machine"],
        "parameters": parameters,
        "groups": results["groups"],
        "models": {name: {"label": m["label"],
                          "runs": [{k: r[k] for k in ("seed", "gap", "recall", "accuracy")} for r in m["runs"]]}
                   for name, m in results["models"].items()},
        "lesson": results["lesson"],
    }
    path = pathlib.Path(path)
    path.write_text(json.dumps(reference, indent=1) + "\n")
    return path


#: the notebook's training loops whose curves ship as references (mitdeeplearning.ontrack): loop -> model
TRAINING_REFERENCES = {"lab2.debias.cnn": "cnn", "lab2.debias.dbvae": "dbvae_pca1"}
#: the notebook knobs that change those curves (compared with a reader's parameters cell)
CURVE_KNOBS = {
    "lab2.debias.cnn": ("train_steps", "batch_size", "learning_rate", "darker_fraction", "n_train_faces"),
    "lab2.debias.dbvae": ("train_steps", "batch_size", "learning_rate", "darker_fraction", "n_train_faces",
                          "latent_dim", "kl_weight", "warmup_steps", "resample_every", "bins", "smoothing"),
}


def _calm_speed(runs, what):
    """Seconds per training step over the runs measured on a machine that was not busy (None if none was)."""
    from mdl_tools.bench import reference

    return reference.calm_speed([r["train_seconds"] for r in runs], [len(r["loss_curve"]) for r in runs],
                                [r.get("load_average") for r in runs], what)


def write_training_references(results, profile="default", directory=None):
    """Reduce each seed's loss curve to the band the notebook's live plots draw; return the paths."""
    from mdl_tools.bench import common, reference

    settings = results["settings"]
    knobs = {PARAMETERS.get(k, k): v for k, v in settings.items() if k in PARAMETERS}
    knobs.update({DATA_PARAMETERS[k]: v for k, v in settings["data"].items()})
    paths = []
    for loop, model in TRAINING_REFERENCES.items():
        runs = results["models"].get(model, {}).get("runs", [])
        if len(runs) < 5:
            raise ValueError(f"{loop} needs the curves of at least 5 seeds of {model!r}, the results hold {len(runs)}")
        curves = {r["seed"]: (list(range(len(r["loss_curve"]))), r["loss_curve"]) for r in runs}
        data = reference.build_reference(
            loop, profile, curves, x_label="step", x_unit="step", y_label="loss", y_unit="",
            y_series="LossHistory(0.95) of the training loss per step",
            settings={k: knobs[k] for k in CURVE_KNOBS[loop]},
            seconds_per_unit=_calm_speed(runs, f"{loop} ({profile})"),
            speed_unit="step", machine=common.machine_info(),
            start=math.log(2) if model == "cnn" else None)
        paths.append(reference.write_reference(data, directory))
    return paths


#: whether the solution itself has learnt at a profile's budget (False: the band is drawn, the verdict
#: says a longer budget is needed). The smoke profile's 6 steps leave both losses near where they start.
LEARNS = {"smoke": False}


def profile_curves(profile, seeds=5, verbose=True):
    """Each seed's two loss curves at one of the notebook's profiles, trained as the notebook trains them.

    The notebook's code at ``profile``'s parameters (its ``compile_steps`` included), with, per seed,
    what its cells do: ``reseed(seed, loader)`` before the standard CNN and before the DB-VAE, the
    notebook's ``train_classifier`` and ``train_dbvae`` (its default ``density_components``). Returns
    ``{"profile", "knobs", "runs": {loop: [{"seed", "loss_curve", "train_seconds", "load_average"}]}}``;
    the report's own runs (``run``) give the ``default`` profile's curves.
    """
    import nbformat

    from mdl_tools import notebook_code, runner
    from mitdeeplearning import lab2

    overrides = runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), profile)
    seed_list = _seed_list(seeds, 5)
    cpu_threads = notebook_code.parameters(NOTEBOOK, overrides)["cpu_threads"]
    determinism_was_on = _make_reproducible(cpu_threads, seed_list[0])
    try:
        nb = notebook_code.load(NOTEBOOK, parameters=overrides)
        runs = {loop: [] for loop in TRAINING_REFERENCES}
        for seed in seed_list:
            for loop, model in TRAINING_REFERENCES.items():
                nb.reseed(seed, nb.loader)
                load, start = os.getloadavg()[0], time.perf_counter()
                if MODELS[model]["kind"] == "classifier":
                    curve = nb.train_classifier(lab2.make_standard_classifier(), nb.loader, nb.settings, title=model).get()
                else:
                    losses, _ = nb.train_dbvae(nb.DB_VAE(nb.latent_dim), nb.loader, nb.settings, debias=True, title=model)
                    curve = _smoothed(losses)
                seconds = time.perf_counter() - start
                runs[loop].append({"seed": seed, "loss_curve": [float(v) for v in curve], "train_seconds": seconds,
                                   "load_average": float(load)})
                _log(verbose, f"{loop} ({profile}) seed {seed}: loss {curve[0]:.3f} -> {curve[-1]:.3f} in {seconds:.1f} s")
        nb.loader.close()
        knobs = {knob: getattr(nb, knob) for knobs in CURVE_KNOBS.values() for knob in knobs}
    finally:
        if not determinism_was_on:
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
    return {"profile": profile, "knobs": knobs, "runs": runs}


def write_profile_references(curves, directory=None, min_seeds=5):
    """Reduce ``profile_curves``'s curves to the bands the notebook's live plots draw; return the paths.

    The speed is the median over the runs that started on a machine that was not oversubscribed;
    where none did, it is not recorded (a line says so, and the verdict says the speed was not measured).
    """
    from mdl_tools.bench import common, reference

    profile, paths = curves["profile"], []
    for loop, runs in curves["runs"].items():
        runs = reference.enough_seeds(loop, profile, runs, min_seeds)
        data = reference.build_reference(
            loop, profile, {r["seed"]: (list(range(len(r["loss_curve"]))), r["loss_curve"]) for r in runs},
            x_label="step", x_unit="step", y_label="loss", y_unit="",
            y_series="LossHistory(0.95) of the training loss per step",
            settings={k: curves["knobs"][k] for k in CURVE_KNOBS[loop]},
            seconds_per_unit=_calm_speed(runs, f"{loop} ({profile})"),
            speed_unit="step", machine=common.machine_info(),
            start=math.log(2) if TRAINING_REFERENCES[loop] == "cnn" else None, learns=LEARNS.get(profile, True))
        paths.append(reference.write_reference(data, directory))
    return paths


def report(results):
    """Print ``run()``'s results as the command line shows them."""
    n = len(results["settings"]["seeds"])
    print(f"\nover {n} seeds {results['settings']['seeds']} (mean ± standard error):")
    for name, m in results["models"].items():
        s = m["summary"]
        print(f"  {name:>10}: gap {format_mean_se(s['gap'], sign=True)} | darker recall {format_mean_se(s['darker_recall'], 100)} "
              f"| accuracy {format_mean_se(s['accuracy'], 100)} | darker share {format_mean_se(s['darker_share'], 100)} % "
              f"| {s['seconds']['mean']:.0f} s/run")
    t = results["targets"]
    if not t:
        return
    print("\ntargets of the lab:")
    if "cnn_gap" in t:
        c = t["cnn_gap"]
        print(f"  CNN gap {c['target']}: {c['value']:+.1f} -> {'met' if c['met'] else 'NOT met'}")
    for name, v in t.items():
        if name == "cnn_gap":
            continue
        parts = []
        if "gap_cut" in v:
            cut = v["gap_cut"]["value"]
            parts.append(f"gap cut {'n/a' if cut is None else f'{cut:.0f} %'} (target {v['gap_cut']['target']}: "
                         f"{'met' if v['gap_cut']['met'] else 'NOT met'})")
        if "darker_recall_vs_uniform_vae" in v:
            d = v["darker_recall_vs_uniform_vae"]
            se = "n/a" if d["se"] is None else f"{d['se']:.1f}"
            parts.append(f"darker recall vs uniform VAE {d['value']:+.1f} ± {se} "
                         f"({'beats' if d['met'] else 'does not beat'} it by more than 1 SE)")
        if "accuracy_vs_cnn" in v:
            a = v["accuracy_vs_cnn"]
            parts.append(f"accuracy vs CNN {a['value']:+.1f} points (target {a['target']}: {'met' if a['met'] else 'NOT met'})")
        print(f"  {name}: " + " | ".join(parts))
    lesson = results.get("lesson")
    if lesson and lesson["seeds"]:
        n = lesson["seeds"]
        print(f"\nthe lesson in one run, over {n} seeds ({lesson['dbvae']} vs cnn):")
        print(f"  DB-VAE gap below the CNN's: {lesson['dbvae_smaller']['count']}/{n} seeds")
        print(f"  CNN gap ≥ {lesson['cnn_gap_min']:g} points: {lesson['cnn_biased']['count']}/{n} seeds")
        print(f"  both (the lesson holds): {lesson['holds']['count']}/{n} seeds")
        print("  per seed (CNN gap -> DB-VAE gap): " + ", ".join(
            f"{s['seed']}: {s['cnn_gap']:+.1f} -> {s['dbvae_gap']:+.1f}{'' if s['holds'] else ' ✗'}" for s in lesson["per_seed"]))
    again = results.get("reproducibility")
    if again:
        verdict = "every number identical" if again["identical"] else f"DIFFERENT: {again['differences']}"
        print(f"\nseed {again['seed']} trained twice ({', '.join(again['models'])}): {verdict}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=None,
                        help="a count n (seeds 0..n-1), a range a-b (both included) or a comma list, e.g. 3,4 or 4, "
                             "(default: the fresh seeds 166-185)")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--models", help=f"comma list of {','.join(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 steps, tiny data: a plumbing test (< 2 min)")
    parser.add_argument("--latent-dim", type=int)
    parser.add_argument("--warmup-steps", type=int)
    parser.add_argument("--resample-every", type=int)
    parser.add_argument("--smoothing", type=float)
    parser.add_argument("--bins", type=int)
    parser.add_argument("--darker-fraction", type=float)
    parser.add_argument("--cpu-threads", type=int, help="TensorFlow's threads per operation (default: the notebook's)")
    parser.add_argument("--no-reproduce", dest="reproduce", action="store_false",
                        help="skip training the first seed a second time to check that it repeats")
    parser.add_argument("--json", help="also write the results dict to this file")
    parser.add_argument("--profile-references", metavar="PROFILE",
                        help="measure nothing else: the loss bands of the notebook's PROFILE (e.g. smoke) over --seeds "
                             "(default 5), written beside the default profile's")
    parser.add_argument("--write-reference", action="store_true",
                        help=f"also write the per-seed gaps the notebook shows its reader ({REFERENCE.relative_to(ROOT)})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    seeds = None
    if args.seeds is not None:
        # "5": seeds 0..4; "100-119": 100 to 119; "3,4" or "4,": exactly those seeds
        if "," in args.seeds:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        elif "-" in args.seeds:
            first, last = (int(s) for s in args.seeds.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = int(args.seeds)
    if args.profile_references:
        for path in write_profile_references(profile_curves(args.profile_references, seeds)):
            print(f"loss band for the notebook's live plot written to {path}")
        return None
    options = {k: v for k, v in vars(args).items()
               if k not in ("seeds", "quick", "json", "write_reference", "profile_references") and v is not None}
    results = run(quick=args.quick, seeds=seeds, verbose=True, **options)
    report(results)
    if args.write_reference:
        print(f"\nper-seed gaps for the notebook written to {write_reference(results)}")
        for path in write_training_references(results):
            print(f"loss band for the notebook's live plot written to {path}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nresults written to {args.json}")
    return results


if __name__ == "__main__":
    main()
