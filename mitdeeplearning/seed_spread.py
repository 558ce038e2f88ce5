"""Lab 2, part 2: one run among many. The benchmark's gap on each seed, beside the reader's own run.

One run of the debiasing notebook is one draw: another seed trains other models and measures other
gaps. ``benchmarks/lab2_debias.py --write-reference`` saves its per-seed results with the package
(:data:`SEED_SPREAD`); the notebook's spread cell says where the reader's gaps fall among them and
draws them. matplotlib is imported on first use.
"""

import json
import pathlib

import numpy as np

__all__ = ["SEED_SPREAD", "load_seed_spread", "seed_spread_model", "place_among_seeds", "plot_seed_spread"]

#: the benchmark's per-seed results at the notebook's default settings
#: (``benchmarks/lab2_debias.py --write-reference`` writes it)
SEED_SPREAD = pathlib.Path(__file__).with_name("assets") / "lab2_debias_seeds.json"


def load_seed_spread(path=SEED_SPREAD):
    """The benchmark's runs of the debiasing notebook, one per seed, as a dict.

    ``parameters`` holds the notebook parameters it ran with; ``models`` maps the benchmark's model
    names (``cnn``, ``vae``, ``dbvae``, ``dbvae_pca1``, ``oracle``) to a ``label`` and ``runs``,
    one dict per seed with ``seed``, ``gap`` (points), ``recall`` and ``accuracy``.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: it ships with the package. In a checkout, write it with "
            f"`python benchmarks/lab2_debias.py --write-reference`."
        )
    spread = json.loads(path.read_text())
    for key in ("parameters", "models"):
        if key not in spread:
            raise ValueError(f"{path} has no {key!r}: write it again with `python benchmarks/lab2_debias.py --write-reference`")
    return spread


def seed_spread_model(name, density_components=1):
    """The benchmark's name for a model of the notebook (``"DB-VAE"`` depends on ``density_components``)."""
    names = {"standard CNN": "cnn", "uniform VAE": "vae", "oracle CNN": "oracle",
             "DB-VAE": "dbvae_pca1" if density_components == 1 else "dbvae" if density_components is None else None}
    if names.get(name) is None:
        raise KeyError(f"the benchmark measures no model like {name!r} (density_components={density_components}); "
                       f"it has {', '.join(k for k, v in names.items() if v)}")
    return names[name]


def place_among_seeds(gaps, parameters, spread=None, density_components=1):
    """Where each of your gaps falls among the benchmark's seeds; returns one line per model.

    ``gaps`` maps the notebook's model names to your lighter − darker gaps (points); ``parameters``
    maps the notebook's parameter names to your values, so that a run with other settings than the
    benchmark's is told that the spread does not describe it.
    """
    spread = load_seed_spread() if spread is None else spread
    lines = []
    differ = {k: (parameters[k], v) for k, v in spread["parameters"].items() if k in parameters and parameters[k] != v}
    if differ:
        lines.append("Your parameters differ from the benchmark's (" + ", ".join(
            f"{k} {mine!r} vs {theirs!r}" for k, (mine, theirs) in differ.items())
            + "): the spread below is for the benchmark's settings, not yours.")
    for name, gap in gaps.items():
        runs = spread["models"].get(seed_spread_model(name, density_components), {}).get("runs", [])
        if not runs:
            lines.append(f"{name}: the benchmark did not measure this model")
            continue
        theirs = np.array([r["gap"] for r in runs])
        below, equal = int(np.sum(theirs < gap)), int(np.sum(theirs == gap))
        seeds = f"{len(theirs)} seed{'' if len(theirs) == 1 else 's'}"
        lines.append(f"{name}: your gap {gap:+.1f}; over {seeds} the gap ranged {theirs.min():+.1f} to {theirs.max():+.1f} "
                     f"(median {np.median(theirs):+.1f}): {below} below yours, {equal} equal, {len(theirs) - below - equal} above")
    return lines


def plot_seed_spread(gaps, spread=None, density_components=1):
    """One row per model: the benchmark's gap on each seed (dots) and yours (a large diamond)."""
    import matplotlib.pyplot as plt

    spread = load_seed_spread() if spread is None else spread
    names = list(gaps)
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(names)), layout="constrained")
    for row, name in enumerate(names):
        runs = spread["models"].get(seed_spread_model(name, density_components), {}).get("runs", [])
        theirs = [r["gap"] for r in runs]
        ax.scatter(theirs, np.full(len(theirs), row), color="gray", alpha=0.6, s=25,
                   label="benchmark, one dot per seed" if row == 0 else None)
        ax.scatter([gaps[name]], [row], color="crimson", marker="D", s=70, zorder=3, label="your run" if row == 0 else None)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("lighter − darker face-recall gap (points)")
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    return fig
