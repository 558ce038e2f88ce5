"""Reduce the benchmark's per-seed training curves to the references the package ships.

A benchmark runs a training loop with several seeds and keeps each seed's curve, the same series the
notebook plots (x: step, epoch, episode or agent steps; y: the smoothed loss, the reward, the points
won). :func:`reduce_curves` puts them on one grid and takes the median and a 10-90 % band;
:func:`build_reference` adds what they were measured with; :func:`write_reference` writes
``mitdeeplearning/assets/reference/<loop>.<profile>.json``, which ``mitdeeplearning.ontrack`` reads.
"""

import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import time

import numpy as np

from mitdeeplearning import ontrack

#: The report's caption for a section's reference figure (``draw_references``).
REFERENCE_CAPTION = "the reference bands the notebooks draw behind a student's training curves (default profile)"

#: Above this many bytes in all, the shipped references would weigh on every install.
MAX_TOTAL_BYTES = 1_000_000


def _ema(values, smoothing):
    """The exponential moving average of mitdeeplearning.util.LossHistory(smoothing)."""
    out = np.empty(len(values))
    for i, value in enumerate(values):
        out[i] = value if i == 0 else smoothing * out[i - 1] + (1 - smoothing) * value
    return out


def reduce_curves(curves, points=100, min_seeds=3, after_end="drop", band=(0.1, 0.9), smoothing=0.0):
    """Median and band of per-seed curves on a common grid.

    ``curves``: ``{seed: (xs, ys)}``, xs strictly increasing. ``points``: grid size (the seeds' own
    x values are kept when they all share them and are no more than ``points``). ``min_seeds``:
    the grid covers only the x range that at least this many seeds reach. ``after_end``: ``"drop"``
    (a seed that stopped contributes nothing after its last x) or ``"hold"`` (it keeps its last
    value: loops that stop once solved). ``smoothing``: LossHistory's moving average, applied to
    each seed first (0: none). Returns ``{"grid", "median", "lower", "upper", "count"}`` as arrays.
    """
    if after_end not in ("drop", "hold"):
        raise ValueError(f"after_end must be 'drop' or 'hold', got {after_end!r}")
    if not 0 <= band[0] < 0.5 < band[1] <= 1:
        raise ValueError(f"band must be two quantiles around the median, like (0.1, 0.9), got {band!r}")
    if not isinstance(curves, dict):
        raise TypeError("curves must be a dict: seed -> (xs, ys)")
    if len(curves) < max(2, min_seeds):
        raise ValueError(f"{len(curves)} seed curve(s); a reference needs at least {max(2, min_seeds)}")
    series = []
    for seed, curve in curves.items():
        xs, ys = (np.asarray(a, dtype=float).ravel() for a in curve)
        if len(xs) != len(ys) or len(xs) < 2:
            raise ValueError(f"seed {seed}: {len(xs)} x values and {len(ys)} y values; "
                             "a curve needs two or more of each, as many x as y")
        if not (np.isfinite(xs).all() and (np.diff(xs) > 0).all()):
            raise ValueError(f"seed {seed}: the x values must be finite and strictly increasing")
        if not np.isfinite(ys).all():
            first = int(np.flatnonzero(~np.isfinite(ys))[0])
            raise ValueError(f"seed {seed}: y is {ys[first]} at x={xs[first]:g}; a diverged seed cannot be a reference")
        series.append((xs, _ema(ys, smoothing) if smoothing else ys))

    starts = sorted(xs[0] for xs, _ in series)
    ends = sorted((xs[-1] for xs, _ in series), reverse=True)
    first, last = starts[min_seeds - 1], (ends[0] if after_end == "hold" else ends[min_seeds - 1])
    if last <= first:
        raise ValueError(f"fewer than {min_seeds} seeds overlap anywhere on x: no grid to reduce on")
    shared = all(len(xs) == len(series[0][0]) and np.array_equal(xs, series[0][0]) for xs, _ in series)
    grid = series[0][0] if shared and len(series[0][0]) <= points else np.linspace(first, last, points)

    values = np.full((len(series), len(grid)), np.nan)
    for row, (xs, ys) in enumerate(series):
        reach = xs[-1] if after_end == "drop" else np.inf
        inside = (grid >= xs[0]) & (grid <= reach)
        values[row, inside] = np.interp(grid[inside], xs, ys)  # beyond the last x: the last y (hold)
    count = np.sum(~np.isnan(values), axis=0)
    if (count < min_seeds).any():
        x = grid[np.argmax(count < min_seeds)]
        raise ValueError(f"only {count.min()} seed(s) cover x={x:g}, inside the range that {min_seeds} seeds reach: "
                         "the seeds' x ranges overlap unevenly")
    return {
        "grid": grid,
        "median": np.nanmedian(values, axis=0),
        "lower": np.nanquantile(values, band[0], axis=0),
        "upper": np.nanquantile(values, band[1], axis=0),
        "count": count,
    }


def _round(values, digits):
    return [float(f"{v:.{digits}g}") for v in values]


def package_versions():
    """The versions a reference was measured with, read without importing TensorFlow."""
    versions = {"python": platform.python_version()}
    for name, dist in (("mitdeeplearning", "introtodeeplearning-tf"), ("tensorflow", "tensorflow"),
                       ("keras", "keras"), ("numpy", "numpy")):
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_reference(loop, profile, curves, *, x_label, x_unit, y_label, y_unit, y_series, settings,
                    seconds_per_unit, speed_unit, machine, start=None, after_end="drop", smoothing=0.0,
                    points=100, min_seeds=3, band=(0.1, 0.9), versions=None, date=None, learns=True):
    """The reference of ``loop`` at ``profile`` as the JSON-ready dict that ontrack reads.

    ``curves``: ``{seed: (xs, ys)}`` (see :func:`reduce_curves`). ``settings``: the knobs that change
    the curve, with the values measured (a notebook whose knobs differ gets a "guide only" band).
    ``y_series``: in words, which series y is (``"LossHistory(0.95) of the loss per step"``).
    ``start``: the level an untrained model starts from (a loss of ln 10 for ten classes); default the
    median's first value. ``seconds_per_unit``: the median over seeds of the training seconds per
    ``speed_unit`` (a step, an epoch, an environment step); None when not measured. ``machine``: the
    benchmark's machine record (``common.machine_info()``: cores, processor, GPUs). ``learns``: False
    for a budget too short for the solution itself to learn (a smoke profile's): the band is drawn,
    and the verdict says a longer budget is needed instead of judging; True requires the median to
    end better than ``start``.
    """
    if loop not in ontrack.LOOPS:
        raise ValueError(f"unknown loop {loop!r}; the labs' loops are {', '.join(ontrack.LOOPS)}")
    reduced = reduce_curves(curves, points=points, min_seeds=min_seeds, after_end=after_end, band=band,
                            smoothing=smoothing)
    grid = _round(reduced["grid"], 7)
    if any(b <= a for a, b in zip(grid, grid[1:])):
        raise ValueError("the grid is too fine to keep 7 significant digits: use fewer points")
    median = _round(reduced["median"], 5)
    data = {
        "format": ontrack.FORMAT,
        "loop": loop,
        "profile": profile,
        "title": ontrack.LOOPS[loop].title,
        "x": {"label": x_label, "unit": x_unit},
        "y": {"label": y_label, "unit": y_unit, "better": ontrack.LOOPS[loop].better, "series": y_series,
              "smoothing_applied": smoothing},
        "start": float(f"{median[0] if start is None else start:.5g}"),
        "after_end": after_end,
        "learns": bool(learns),
        "seeds": [s if isinstance(s, (int, str)) else int(s) for s in curves],
        "settings": dict(settings),
        "band": {"lower": band[0], "upper": band[1]},
        "grid": grid,
        "median": median,
        # rounded outwards, so that lower <= median <= upper holds after rounding
        "lower": [min(a, m) for a, m in zip(_round(reduced["lower"], 5), median)],
        "upper": [max(a, m) for a, m in zip(_round(reduced["upper"], 5), median)],
        "count": [int(c) for c in reduced["count"]],
        "speed": {"unit": speed_unit,
                  "seconds_per_unit": None if seconds_per_unit is None else float(f"{seconds_per_unit:.4g}")},
        "versions": package_versions() if versions is None else dict(versions),
        "machine": dict(machine),
        "date": date or datetime.date.today().isoformat(),
    }
    ontrack.Reference(json.loads(json.dumps(data, allow_nan=False)), source=f"{loop} ({profile}), as built")
    return data


def write_reference(data, directory=None):
    """Write ``data`` (from :func:`build_reference`) as ``<loop>.<profile>.json``; return its path.

    Refuses to leave the folder's references over :data:`MAX_TOTAL_BYTES` in all.
    """
    folder = pathlib.Path(directory) if directory is not None else ontrack.REFERENCE_DIR
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    ontrack.Reference(json.loads(text), source=f"{data.get('loop')} ({data.get('profile')})")  # what the reader will see
    path = folder / f"{data['loop']}.{data['profile']}.json"
    others = sum(p.stat().st_size for p in folder.glob("*.json") if p != path) if folder.is_dir() else 0
    if others + len(text.encode()) > MAX_TOTAL_BYTES:
        raise ValueError(f"the references would weigh {others + len(text.encode()):,} bytes in all, over "
                         f"{MAX_TOTAL_BYTES:,}: use fewer grid points")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def median_seconds_per_unit(seconds, work):
    """Median over seeds of ``seconds[i] / work[i]``: the reference's speed."""
    seconds, work = np.asarray(seconds, dtype=float), np.asarray(work, dtype=float)
    if seconds.shape != work.shape or seconds.size == 0:
        raise ValueError(f"{seconds.size} times and {work.size} amounts of work: give one of each per seed")
    if not (np.isfinite(seconds).all() and (seconds > 0).all() and (work > 0).all()):
        raise ValueError(f"every seed needs positive seconds and work, got {seconds.tolist()} and {work.tolist()}")
    return float(np.median(seconds / work))


#: A run that started with a 1-minute load average above this many runnable processes per core shared
#: its machine with other work: its seconds say nothing about the speed of the code. (A run that uses
#: every core alone brings the load to about the core count.)
BUSY_PER_CORE = 1.0


def calm_speed(seconds, work, loads, what):
    """The reference's speed: the median seconds per unit of work over the runs that started on a machine
    that was not oversubscribed (``loads``: each run's 1-minute load average at its start, None if not
    recorded). None, with a line saying why, when no run did: the verdict then says the speed was not
    measured."""
    cores = os.cpu_count() or 1
    calm = [(s, w) for s, w, load in zip(seconds, work, loads) if load is not None and load <= BUSY_PER_CORE * cores]
    if not calm:
        shown = ", ".join("not recorded" if load is None else f"{load:.1f}" for load in loads)
        print(f"{what}: speed not recorded: no run started on a machine with at most {BUSY_PER_CORE:g} runnable "
              f"processes per core (load averages {shown} on {cores} cores); measure on an idle machine to record it",
              flush=True)
        return None
    return median_seconds_per_unit(*zip(*calm))


def measure_profiles(benchmark, measure, quick, seeds, profiles, defaults):
    """A curve benchmark's ``run``: ``measure(profile, seeds)`` for each profile.

    ``seeds`` (a count or a list) and ``profiles`` fall back to ``defaults`` (the benchmark's
    ``{"profiles", "seeds"}``, its quick ones when ``quick``). Returns ``{"benchmark", "quick",
    "profiles": {profile: measured}, "seconds"}``, which ``write_training_references`` reduces.
    """
    start = time.perf_counter()
    seeds = defaults["seeds"] if seeds is None else seeds
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    results = {"benchmark": benchmark, "quick": bool(quick),
               "profiles": {profile: measure(profile, seeds) for profile in profiles or defaults["profiles"]}}
    results["seconds"] = time.perf_counter() - start
    return results


def full_runs(results):
    """``results["profiles"]``, after refusing a quick run: one measures code paths, not a reference."""
    if results.get("quick"):
        raise ValueError("a quick run measures the code paths, not a reference: run without --quick")
    return results["profiles"]


def enough_seeds(loop, profile, runs, min_seeds):
    """``runs``, after checking that at least ``min_seeds`` seeds were measured for ``loop`` at ``profile``."""
    if len(runs) < min_seeds:
        raise ValueError(f"{loop} ({profile}): {len(runs)} seed(s) measured, a reference needs at least {min_seeds}")
    return runs


def command_line(argv, description, run, write_training_references, profiles, root):
    """The command line of a benchmark that measures training curves for references (lab 1's, MNIST's):
    measure at ``profiles`` (or read a saved ``--from-json``), write the references, save ``--json``."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profiles", default=",".join(profiles), help="comma list of the notebook's profiles")
    parser.add_argument("--seeds", default=None, help="a count n (seeds 0..n-1) or a comma list (default: 0-4)")
    parser.add_argument("--quick", action="store_true", help="smoke profile, 2 seeds: the code paths only")
    parser.add_argument("--write-references", action="store_true", help="write the references the notebook draws")
    parser.add_argument("--json", help="also write the results dict to this file")
    parser.add_argument("--from-json", help="measure nothing: reduce the results saved by --json to the references")
    args = parser.parse_args(argv)
    seeds = None
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()] if "," in args.seeds else int(args.seeds)
    chosen = None if args.quick else tuple(p for p in args.profiles.split(",") if p)
    if args.from_json:
        results = json.loads(pathlib.Path(args.from_json).read_text())
    else:
        results = run(quick=args.quick, seeds=seeds, profiles=chosen)
    if args.write_references:
        for path in write_training_references(results):
            print(f"reference written to {path.relative_to(root)}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"results written to {args.json}")
    return results


def draw_references(loops, path, profile="default", directory=None):
    """One panel per loop: the reference each notebook's live plot draws behind the student's curve.

    Read from the shipped files (``directory``: the package's assets) and drawn by
    ``Reference.draw``, the notebooks' own drawing, so the report shows what a student sees.
    Returns the figure's file name.
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(loops), figsize=(3.3 * len(loops), 2.9), squeeze=False)
    for ax, loop in zip(axes[0], loops):
        ref = ontrack.load_reference(loop, profile, directory=directory)
        ref.draw(ax)
        ax.set_title(textwrap.fill(ref.data.get("title", loop), 42), fontsize=8)
        ax.set_xlabel(ref.x_label, fontsize=8)
        ax.set_ylabel(ref.y_label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return pathlib.Path(path).name
