"""Lab 1 part 2: the music LSTM's training loss over seeds, the reference the notebook's live plot draws.

    .venv/bin/python benchmarks/lab1_training.py                          # default and smoke, 5 seeds each
    .venv/bin/python benchmarks/lab1_training.py --profiles smoke --seeds 3
    .venv/bin/python benchmarks/lab1_training.py --write-references       # also write the references

It trains with the solution notebook's own code: the cells of
``lab1/solutions/Part2_Music_Generation_Solution.ipynb`` tagged ``reference`` (data, model, loss,
``make_train_step``, ``train_model``), loaded with ``mdl_tools.notebook_code`` and the notebook's
parameters cell at each profile's settings, with only ``seed`` changed from run to run. Each run
calls ``train_model`` as the notebook's training cell does and keeps the series its live plot draws:
the loss per step under the notebook's moving average (``LOSS_SMOOTHING``), and the seconds it took
(tracing and checkpoints included, as the notebook's own timing).

``--write-references`` (and ``make bench``) reduces the curves to the median and 10-90 % band that
the notebook draws behind a student's curve and judges the run against
(``mitdeeplearning/assets/reference/lab1.music.loss.<profile>.json``), with the knobs they were
measured with (the notebook's ``training_knobs``). A default run takes about 2.5 min on 2 idle
cores; its seconds per step become the reference's speed, so measure on an otherwise idle machine.
"""

import math
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # the notebook's progress bars

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab1" / "solutions" / "Part2_Music_Generation_Solution.ipynb"
LOOP = "lab1.music.loss"
#: the profiles whose references ship, and the seeds each is measured with (the notebook's seed 0 among them)
PROFILES = ("default", "smoke")
SEEDS = list(range(5))
#: ``run(quick=True)``: the smoke profile, two seeds: the code paths, in a minute
QUICK = {"profiles": ("smoke",), "seeds": [0, 1]}


def profile_parameters(profile):
    """The notebook's overrides for ``profile`` (none for ``default``)."""
    import nbformat

    from mdl_tools import runner

    return runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), profile)


def load_lab(profile="default", **parameters):
    """The notebook's reference cells at ``profile``'s settings, with ``parameters`` on top, as a module."""
    from mdl_tools import notebook_code

    return notebook_code.load(NOTEBOOK, parameters={**profile_parameters(profile), **parameters})


def train_once(lab):
    """One training run of a loaded notebook, as its training cell runs it: ``(LossHistory, seconds)``."""
    import mitdeeplearning as mdl

    vectorized = lab.vectorize_string(lab.songs_joined, lab.char2idx)
    with tempfile.TemporaryDirectory() as tmp:
        plotter = mdl.util.PeriodicPlotter(sec=3600)  # outside a notebook it only keeps the data
        start = time.perf_counter()
        history = lab.train_model(lab.model, lab.train_step, vectorized, lab.seq_length, lab.batch_size,
                                  lab.num_training_iterations, os.path.join(tmp, "music.weights.h5"),
                                  lab.checkpoint_every, plotter)
        seconds = time.perf_counter() - start
    return history, seconds


def measure(profile, seeds):
    """The loss curves of ``seeds`` at ``profile``: one dict per seed, and what they were measured with."""
    runs, lab = [], None
    for seed in seeds:
        lab = load_lab(profile, seed=seed)
        load = os.getloadavg()[0]
        history, seconds = train_once(lab)
        curve = [float(v) for v in history.get()]
        runs.append({"seed": seed, "loss_curve": curve, "seconds": seconds, "steps": len(curve), "load_average": load})
        print(f"{LOOP} ({profile}) seed {seed}: {len(curve)} steps in {seconds:.0f} s "
              f"({seconds / len(curve):.3f} s/step), smoothed loss {curve[0]:.3f} -> {curve[-1]:.3f}", flush=True)
    return {"profile": profile, "runs": runs, "knobs": dict(lab.training_knobs), "smoothing": lab.LOSS_SMOOTHING,
            "vocab_size": len(lab.vocab)}


def run(quick=False, seeds=None, profiles=None):
    """Measure the curves; a JSON-serialisable dict ``{"profiles": {profile: measure(...)}, "seconds"}``."""
    from mdl_tools.bench import reference

    defaults = QUICK if quick else {"profiles": PROFILES, "seeds": SEEDS}
    return reference.measure_profiles("lab1_training", measure, quick, seeds, profiles, defaults)


def write_training_references(results, directory=None, min_seeds=5):
    """Reduce each profile's curves to the reference the notebook draws; return the paths written."""
    from mdl_tools.bench import common, reference

    machine, paths = common.machine_info(), []
    for profile, measured in reference.full_runs(results).items():
        runs = reference.enough_seeds(LOOP, profile, measured["runs"], min_seeds)
        data = reference.build_reference(
            LOOP, profile, {r["seed"]: (list(range(r["steps"])), r["loss_curve"]) for r in runs},
            x_label="step", x_unit="step", y_label="loss", y_unit="nats per character",
            y_series=f"LossHistory({measured['smoothing']}) of the training loss per step",
            settings=measured["knobs"],
            seconds_per_unit=reference.calm_speed([r["seconds"] for r in runs], [r["steps"] for r in runs], [r.get("load_average") for r in runs], f"{LOOP} ({profile})"),
            speed_unit="step", machine=machine,
            start=math.log(measured["vocab_size"]))  # an untrained model guesses every character evenly
        paths.append(reference.write_reference(data, directory))
    return paths


def main(argv=None):
    from mdl_tools.bench import reference

    return reference.command_line(argv, __doc__.splitlines()[0], run, write_training_references, PROFILES, ROOT)


if __name__ == "__main__":
    main()
