"""The given pieces of lab 2, part 2: the face classifier and decoder architectures, oracle
resampling, and the per-group evaluation.

What the notebook's TODOs ask for (the VAE loss, the reparameterisation, the DB-VAE loss and
model, the resampling probabilities, the training loop) is not here: the solution notebook is the
one source of that code, and benchmarks and tests load it from there (its cells tagged
``reference``, through ``mdl_tools.notebook_code``).

Names and meanings used throughout (text and code): ``z_mean`` is μ, ``z_logvar`` is **log σ²**
(the log of the variance, not of the standard deviation).
"""

import json
import pathlib

import numpy as np
import keras
import tensorflow as tf

from . import faces

__all__ = [
    "make_standard_classifier",
    "make_face_decoder",
    "effective_sample_size",
    "oracle_probabilities",
    "predict_logits",
    "evaluate_groups",
    "SEED_SPREAD",
    "load_seed_spread",
    "seed_spread_model",
    "place_among_seeds",
    "plot_seed_spread",
]

#: the benchmark's per-seed results at the notebook's default settings
#: (``benchmarks/lab2_debias.py --write-reference`` writes it)
SEED_SPREAD = pathlib.Path(__file__).with_name("assets") / "lab2_debias_seeds.json"

# BatchNorm with Keras' default momentum (0.99) lags behind the weights for a few hundred steps,
# so eval-mode predictions are far worse than training ones; 0.9 keeps them in step.
BN_MOMENTUM = 0.9


def make_standard_classifier(n_outputs=1, n_filters=12):
    """The course's face classifier: four strided convolutions with BatchNorm, then two dense layers.

    Input (batch, 64, 64, 3) float in [0, 1]; output (batch, n_outputs) logits.
    """

    def conv(filters, size):
        return [
            keras.layers.Conv2D(filters, size, strides=2, padding="same", activation="relu"),
            keras.layers.BatchNormalization(momentum=BN_MOMENTUM),
        ]

    return keras.Sequential(
        [keras.Input((faces.SIZE, faces.SIZE, 3))]
        + conv(1 * n_filters, 5)
        + conv(2 * n_filters, 5)
        + conv(4 * n_filters, 3)
        + conv(6 * n_filters, 3)
        + [
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(n_outputs, activation=None),
        ]
    )


def make_face_decoder(latent_dim, n_filters=12):
    """Mirror of the classifier: latent (batch, latent_dim) -> image (batch, 64, 64, 3) in [0, 1]."""
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(4 * 4 * 6 * n_filters, activation="relu"),
            keras.layers.Reshape((4, 4, 6 * n_filters)),
            keras.layers.Conv2DTranspose(4 * n_filters, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(2 * n_filters, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(1 * n_filters, 5, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(3, 5, strides=2, padding="same", activation="sigmoid"),
        ]
    )


def effective_sample_size(p):
    """Kish's effective sample size 1 / Σ p²: how many faces the weights effectively use."""
    p = np.asarray(p, dtype=np.float64)
    return float(1.0 / np.sum(p * p))


def oracle_probabilities(darker, share=0.5):
    """Sampling probabilities over faces that give darker faces ``share`` of the draws (label-aware)."""
    darker = np.asarray(darker, dtype=bool)
    if darker.all() or not darker.any():
        raise ValueError("the oracle needs both darker and lighter training faces")
    p = np.where(darker, share / darker.sum(), (1 - share) / (~darker).sum())
    return p / p.sum()


def predict_logits(predict, images, batch_size=256):
    """Face logits for ``images`` via ``predict(batch) -> (batch, 1)`` logits, as a NumPy vector."""
    out = [np.asarray(predict(tf.constant(images[i:i + batch_size]))).reshape(-1) for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def evaluate_groups(predict, images, labels, groups, threshold=0.0):
    """Per-group face recall, non-face accuracy and overall accuracy of a face detector.

    ``predict(batch)`` returns face logits; a logit above ``threshold`` (0 ⇔ probability 0.5)
    counts as "face". ``groups`` holds the group index (:data:`faces.GROUPS`) per image, -1 for
    non-faces. Returns a dict with ``recall`` (one entry per group), ``probability`` (the mean
    predicted face probability of each group's faces: it moves with every weight, where a recall
    moves only when a face crosses the threshold), ``nonface_accuracy``, ``accuracy`` and ``gap``
    (mean recall of the lighter groups minus that of the darker ones, in percentage points).
    """
    logits = predict_logits(predict, images)
    is_face = logits > threshold
    labels = np.asarray(labels).reshape(-1)
    groups = np.asarray(groups)
    recall = [float(np.mean(is_face[groups == g])) for g in range(len(faces.GROUPS))]
    face_probability = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    probability = [float(np.mean(face_probability[groups == g])) for g in range(len(faces.GROUPS))]
    nonface_accuracy = float(np.mean(~is_face[labels == 0]))
    accuracy = float(np.mean(is_face == (labels == 1)))
    gap = 100.0 * (np.mean(recall[:2]) - np.mean(recall[2:]))
    return {"recall": recall, "probability": probability, "nonface_accuracy": nonface_accuracy,
            "accuracy": accuracy, "gap": float(gap)}


# ----------------------------------------------------------------------------- one run among many


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
