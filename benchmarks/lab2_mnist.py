"""Lab 2 part 1: the three MNIST training curves over seeds, the references the notebook's plots draw.

    .venv/bin/python benchmarks/lab2_mnist.py                          # default and smoke, 5 seeds each
    .venv/bin/python benchmarks/lab2_mnist.py --profiles smoke --seeds 3
    .venv/bin/python benchmarks/lab2_mnist.py --write-references       # also write the references

It runs the solution notebook ``lab2/solutions/Part1_MNIST_Solution.ipynb`` itself, cell by cell
from the top (``mdl_tools.notebook_code.run_cells``), at each profile's settings with only ``seed``
changed from run to run: the notebook trains its models in its own cells, the ``model.fit`` calls
and the TODO cells' answers included, so the curves are the ones a student's run of the solution
draws. From each run it keeps what the notebook plots and judges:

* ``lab2.mnist.fc``   the fully connected model's ``fit`` loss per epoch (``fc_losses``);
* ``lab2.mnist.cnn``  the CNN's ``fit`` loss per epoch (``cnn_losses``);
* ``lab2.mnist.loop`` the hand-written GradientTape loop's loss per step under ``LossHistory``
  (``loss_history``);

with the seconds each took, as the notebook times them. The data is the bundled 5,000-digit
subset, the data every install has: a profile whose ``mnist_source`` is ``"auto"`` is run with
``"subset"``, which is what ``"auto"`` gives offline (a run on the full MNIST gets the band as a
guide only, the plot says so).

``--write-references`` (and ``make bench``) reduces the curves to the median and 10-90 % band that
the notebook draws behind a student's curves and judges the runs against
(``mitdeeplearning/assets/reference/lab2.mnist.<loop>.<profile>.json``), with the knobs they were
measured with (the notebook's ``mnist_knobs``, each loop's own).
"""

import contextlib
import io
import math
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # the notebook's progress bars
os.environ.setdefault("MPLBACKEND", "Agg")  # the notebook's figures are drawn on no screen

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab2" / "solutions" / "Part1_MNIST_Solution.ipynb"
#: the last line the runs need: the hand-written loop's verdict (everything the three curves come from)
THROUGH = 'print(mdl.util.verdict("lab2.mnist.loop"'
PROFILES = ("default", "smoke")
SEEDS = list(range(5))
QUICK = {"profiles": ("smoke",), "seeds": [0, 1]}

#: loop -> (the notebook's names of its curve, its seconds, its budget knob), and what it plots
LOOPS = {
    "lab2.mnist.fc": {"curve": "fc_losses", "seconds": "fc_seconds", "x": "epoch",
                      "series": "fit's mean training loss of each epoch (History.history['loss'])",
                      "knobs": ("mnist_source", "batch_size", "fc_epochs", "fc_learning_rate")},
    "lab2.mnist.cnn": {"curve": "cnn_losses", "seconds": "cnn_seconds", "x": "epoch",
                       "series": "fit's mean training loss of each epoch (History.history['loss'])",
                       "knobs": ("mnist_source", "batch_size", "cnn_epochs", "cnn_learning_rate")},
    "lab2.mnist.loop": {"curve": "loss_history", "seconds": "loop_seconds", "x": "step",
                        "series": "LossHistory(0.95) of the training loss per step",
                        "knobs": ("mnist_source", "batch_size", "loop_steps", "loop_learning_rate")},
}
#: profile -> more seeds for the hand-written loop alone. At its default 400 SGD steps it is in its
#: steepest fall, which comes earlier or later from seed to seed, so its end varies more than the fit
#: loops' and 5 seeds show too narrow a band. Its curve does not depend on the two fit loops before it
#: (the notebook reseeds before building its model, and its batches come from a generator of their
#: own: the same seed gives the same curve to the last digit), so these runs train those two for one epoch.
LOOP_EXTRA_SEEDS = {"default": list(range(5, 10))}
#: whether the solution itself has learnt at a profile's budget (False: the band is drawn, the
#: verdict says a longer budget is needed). The smoke loop's 20 SGD steps barely leave ln 10.
LEARNS = {("lab2.mnist.loop", "smoke"): False}


def profile_parameters(profile, notebook=NOTEBOOK):
    """The notebook's overrides for ``profile`` (none for ``default``)."""
    import nbformat

    from mdl_tools import runner

    return runner.profile_overrides(nbformat.read(notebook, as_version=4), profile)


def run_notebook(profile="default", through=THROUGH, edits=None, notebook=NOTEBOOK, **parameters):
    """The notebook's cells run from the top through ``through`` at ``profile``, as a module.

    ``parameters`` go on top of the profile's; ``mnist_source="auto"`` becomes ``"subset"``.
    ``edits``: ``[(old, new), ...]`` in the notebook's code (a test's mistake); ``notebook``: another
    copy of it (a test's edited one). What the cells print is kept in the module's ``printed``.
    """
    import matplotlib.pyplot as plt

    from mdl_tools import notebook_code

    values = {**profile_parameters(profile, notebook), **parameters}
    if values.get("mnist_source", notebook_code.parameters(notebook)["mnist_source"]) == "auto":
        values["mnist_source"] = "subset"
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            lab = notebook_code.run_cells(notebook, parameters=values, through=through, edits=edits)
    finally:
        plt.close("all")
    lab.printed = printed.getvalue()
    return lab


def curves(lab):
    """``{loop: (xs, ys, seconds)}`` of a notebook run, as its plots and verdicts take them."""
    out = {}
    for loop, spec in LOOPS.items():
        if not hasattr(lab, spec["seconds"]):
            continue  # the run stopped before this loop
        ys = getattr(lab, spec["curve"])
        ys = [float(v) for v in (ys.get() if hasattr(ys, "get") else ys)]
        xs = list(range(1, len(ys) + 1)) if spec["x"] == "epoch" else list(range(len(ys)))
        out[loop] = (xs, ys, float(getattr(lab, spec["seconds"])))
    return out


def measure(profile, seeds):
    """Every loop's curve for each seed at ``profile``, and the knobs they were measured with."""
    runs, knobs = {loop: [] for loop in LOOPS}, None
    for seed in seeds:
        start, load = time.perf_counter(), os.getloadavg()[0]
        lab = run_notebook(profile, seed=seed)
        knobs = dict(lab.mnist_knobs)
        for loop, (xs, ys, seconds) in curves(lab).items():
            runs[loop].append({"seed": seed, "x": xs, "y": ys, "seconds": seconds, "load_average": load})
        print(f"lab2.mnist ({profile}) seed {seed}: " + "; ".join(
            f"{loop.rsplit('.', 1)[1]} {r[-1]['y'][0]:.3f} -> {r[-1]['y'][-1]:.3f} in {r[-1]['seconds']:.0f} s"
            for loop, r in runs.items()) + f" ({time.perf_counter() - start:.0f} s in all)", flush=True)
    for seed in LOOP_EXTRA_SEEDS.get(profile, []) if seeds == SEEDS else []:
        load = os.getloadavg()[0]
        xs, ys, seconds = curves(run_notebook(profile, seed=seed, fc_epochs=1, cnn_epochs=1))["lab2.mnist.loop"]
        runs["lab2.mnist.loop"].append({"seed": seed, "x": xs, "y": ys, "seconds": seconds, "load_average": load})
        print(f"lab2.mnist ({profile}) seed {seed}, the hand-written loop alone: {ys[0]:.3f} -> {ys[-1]:.3f} "
              f"in {seconds:.0f} s", flush=True)
    return {"profile": profile, "runs": runs, "knobs": knobs}


def run(quick=False, seeds=None, profiles=None):
    """Measure the curves; a JSON-serialisable dict ``{"profiles": {profile: measure(...)}, "seconds"}``."""
    from mdl_tools.bench import reference

    defaults = QUICK if quick else {"profiles": PROFILES, "seeds": SEEDS}
    return reference.measure_profiles("lab2_mnist", measure, quick, seeds, profiles, defaults)


def write_training_references(results, directory=None, min_seeds=5):
    """Reduce each loop's curves at each profile to the reference the notebook draws; return the paths."""
    from mdl_tools.bench import common, reference

    machine, paths = common.machine_info(), []
    for profile, measured in reference.full_runs(results).items():
        for loop, runs in measured["runs"].items():
            runs = reference.enough_seeds(loop, profile, runs, min_seeds)
            spec = LOOPS[loop]
            data = reference.build_reference(
                loop, profile, {r["seed"]: (r["x"], r["y"]) for r in runs},
                x_label=spec["x"], x_unit=spec["x"], y_label="loss", y_unit="nats", y_series=spec["series"],
                settings={k: measured["knobs"][k] for k in spec["knobs"]},
                seconds_per_unit=reference.calm_speed([r["seconds"] for r in runs], [len(r["y"]) for r in runs], [r.get("load_average") for r in runs], f"{loop} ({profile})"),
                speed_unit=spec["x"], machine=machine,
                start=math.log(10),  # an untrained model guesses among ten digits
                learns=LEARNS.get((loop, profile), True))
            paths.append(reference.write_reference(data, directory))
    return paths


def main(argv=None):
    from mdl_tools.bench import reference

    return reference.command_line(argv, __doc__.splitlines()[0], run, write_training_references, PROFILES, ROOT)


if __name__ == "__main__":
    main()
