"""Lab 2: computer vision — MNIST classifiers (part 1) and debiasing face detection (part 2).

Kept names from the 2020/21 course notebooks: :class:`TrainingDatasetLoader`,
:func:`get_test_faces`, :func:`plot_image_prediction`, :func:`plot_value_prediction`
(``mdl.util.plot_sample`` lives in :mod:`mitdeeplearning.util`). New: :func:`load_mnist`,
:func:`synthetic_faces_path`, :func:`make_synthetic_faces`, :func:`load_test_set` and the
``check_*`` functions that follow each TODO.

TensorFlow is imported only by the functions that need it, so ``mdl.lab2.load_mnist`` and the
face data work without it.
"""

import numpy as np

from .checks import check, require
from .faces import (  # noqa: F401  (public re-exports)
    DARKER_FRACTION,
    GROUPS,
    TrainingDatasetLoader,
    get_test_faces,
    group_of,
    load_test_set,
    make_synthetic_faces,
    synthetic_faces_path,
)
from .mnist import load_mnist  # noqa: F401

__all__ = [
    "DARKER_FRACTION",
    "GROUPS",
    "TrainingDatasetLoader",
    "get_test_faces",
    "group_of",
    "load_test_set",
    "make_synthetic_faces",
    "synthetic_faces_path",
    "load_mnist",
    "plot_image_prediction",
    "plot_value_prediction",
    "plot_sample_grid",
    "plot_group_accuracy",
    "check_fc_model",
    "check_cnn_model",
    "check_compiled",
    "check_accuracy",
    "check_predictions",
    "check_train_step",
    "check_vae_loss",
    "check_sampling",
    "check_debiasing_loss",
    "check_dbvae",
    "check_sample_probabilities",
    "check_dbvae_training",
]


def __getattr__(name):
    # the given part-2 pieces (architectures, oracle, evaluation) import TensorFlow: load them only when asked for
    if name in {"make_standard_classifier", "make_face_decoder", "evaluate_groups", "effective_sample_size",
                "oracle_probabilities", "predict_logits"}:
        from . import debias

        return getattr(debias, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ============================================================================ plots (part 1)


def plot_image_prediction(i, predictions_array, true_label, img):
    """Show image ``i`` with its predicted digit, the model's confidence and the true label.

    Blue caption when the prediction is right, red when wrong (as in the 2020 course).
    """
    import matplotlib.pyplot as plt

    predictions_array, true_label, img = predictions_array[i], np.asarray(true_label)[i], img[i]
    plt.grid(False)
    plt.xticks([])
    plt.yticks([])
    plt.imshow(np.squeeze(img), cmap=plt.cm.binary)
    predicted_label = int(np.argmax(predictions_array))
    colour = "blue" if predicted_label == int(true_label) else "red"
    plt.xlabel(f"{predicted_label} {100 * np.max(predictions_array):2.0f}% ({int(true_label)})", color=colour)


def plot_value_prediction(i, predictions_array, true_label):
    """Bar chart of the ten class probabilities of image ``i``: red = predicted, blue = true."""
    import matplotlib.pyplot as plt

    predictions_array, true_label = predictions_array[i], int(np.asarray(true_label)[i])
    plt.grid(False)
    plt.xticks(range(10))
    plt.yticks([])
    bars = plt.bar(range(10), predictions_array, color="#777777")
    plt.ylim([0, 1])
    bars[int(np.argmax(predictions_array))].set_color("red")
    bars[true_label].set_color("blue")


def plot_sample_grid(images, titles=None, n_cols=8, size=1.4, cmap=None):
    """Show images in a grid (titles optional); returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    n_rows = max(1, int(np.ceil(n / n_cols)))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * size, n_rows * size * 1.15), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(np.squeeze(images[k]), cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_group_accuracy(results, groups=GROUPS):
    """Grouped bar chart of per-group face recall: ``results`` maps model name -> list of 4 recalls."""
    import matplotlib.pyplot as plt

    names = list(results)
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for k, name in enumerate(names):
        ax.bar(np.arange(len(groups)) + k * width, 100 * np.asarray(results[name]), width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups)
    ax.set_ylabel("face recall (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


# ============================================================================ checks, part 1


def _layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act))


def _softmax_rows(model, shape):
    import tensorflow as tf

    x = tf.random.uniform((4,) + tuple(shape), seed=1)
    out = np.asarray(model(x, training=False))
    return out


@check
def check_fc_model(model):
    """The fully connected MNIST model: Flatten → Dense(ReLU) → Dense(10, softmax)."""
    kinds = _layer_kinds(model)
    require(kinds[:1] == ["Flatten"], f"the model should start with Flatten (28×28×1 → 784), got layers {kinds}")
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    require(len(dense) == 2, f"expected two Dense layers (hidden + output), got {len(dense)}: {kinds}")
    require(_activation_name(dense[0]) == "relu", f"the hidden Dense layer should use activation='relu', got {_activation_name(dense[0])!r}")
    require(dense[1].units == 10, f"the output layer needs 10 units, one per digit, got {dense[1].units}")
    require(_activation_name(dense[1]) == "softmax", f"the output layer should use activation='softmax' so rows are probabilities, got {_activation_name(dense[1])!r}")
    out = _softmax_rows(model, (28, 28, 1))
    require(out.shape == (4, 10), f"a batch of 4 images should give shape (4, 10), got {out.shape}")
    require(np.allclose(out.sum(axis=1), 1.0, atol=1e-4), f"rows should sum to 1 (softmax), got sums {out.sum(axis=1)}")
    return f"fully connected model: {kinds}, output (batch, 10), rows sum to 1"


@check
def check_cnn_model(model):
    """The CNN: Conv2D(24, 3×3) → MaxPool → Conv2D(36, 3×3) → MaxPool → Flatten → Dense(128) → Dense(10, softmax)."""
    kinds = [k for k in _layer_kinds(model) if k not in ("InputLayer", "Dropout", "BatchNormalization")]
    expected = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    require(kinds == expected, f"expected layers {expected}, got {kinds}")
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    filters = [c.filters for c in convs]
    require(filters == [24, 36], f"the two convolutions should have 24 and 36 filters, got {filters}")
    sizes = [tuple(c.kernel_size) for c in convs]
    require(sizes == [(3, 3), (3, 3)], f"both kernels should be 3×3, got {sizes}")
    require(all(_activation_name(c) == "relu" for c in convs), "use activation='relu' in both convolutions")
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    require(dense[0].units == 128 and _activation_name(dense[0]) == "relu", f"the hidden Dense layer should be Dense(128, activation='relu'), got {dense[0].units} units, {_activation_name(dense[0])!r}")
    require(dense[1].units == 10 and _activation_name(dense[1]) == "softmax", f"the output should be Dense(10, activation='softmax'), got {dense[1].units} units, {_activation_name(dense[1])!r}")
    out = _softmax_rows(model, (28, 28, 1))
    require(out.shape == (4, 10), f"a batch of 4 images should give shape (4, 10), got {out.shape}")
    require(np.allclose(out.sum(axis=1), 1.0, atol=1e-4), f"rows should sum to 1 (softmax), got sums {out.sum(axis=1)}")
    return "CNN layers in order, 24 and 36 filters, softmax output"


@check
def check_compiled(model):
    """The model is compiled with an optimizer, a sparse categorical cross-entropy loss and accuracy."""
    require(getattr(model, "optimizer", None) is not None, "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) first")
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "name", getattr(loss, "__name__", str(loss)))
    require("sparse_categorical_crossentropy" in str(name).lower(),
            f"labels are integers 0–9, so use loss='sparse_categorical_crossentropy' (got {name!r}); "
            f"'categorical_crossentropy' would need one-hot labels")
    lr = float(np.asarray(model.optimizer.learning_rate))
    return f"compiled with {type(model.optimizer).__name__} (learning rate {lr:g}) and {name}"


@check
def check_accuracy(test_acc, chance=0.1):
    """A held-out accuracy from model.evaluate: a float in [0, 1] above chance."""
    test_acc = float(np.asarray(test_acc))
    require(0.0 <= test_acc <= 1.0, f"accuracy should be a fraction in [0, 1], got {test_acc}; did you pass the loss?")
    require(test_acc > 2 * chance, f"accuracy {test_acc:.3f} is near chance ({chance}); did fit() run on the training images and evaluate() on the test images?")
    return f"held-out accuracy {test_acc:.4f}"


@check
def check_predictions(predictions, predicted_labels):
    """Predicted labels are the argmax of each row of probabilities, as integers."""
    predictions = np.asarray(predictions)
    predicted_labels = np.asarray(predicted_labels)
    require(predicted_labels.shape == predictions.shape[:1],
            f"expected one label per image, shape {predictions.shape[:1]}, got {predicted_labels.shape}; take argmax over axis=1 (the classes)")
    require(np.issubdtype(predicted_labels.dtype, np.integer), f"labels should be integers, got {predicted_labels.dtype}")
    require(np.array_equal(predicted_labels, np.argmax(predictions, axis=1)), "labels differ from np.argmax(predictions, axis=1); did you take the argmax over the right axis?")
    return f"{len(predicted_labels)} predicted labels agree with argmax"


@check
def check_train_step(train_step, images, labels, steps=8):
    """``train_step(images, labels)`` returns a scalar loss and lowers it on a fixed batch."""
    losses = [float(np.asarray(train_step(images, labels))) for _ in range(steps)]
    require(np.all(np.isfinite(losses)), f"the loss became non-finite: {losses}")
    require(losses[-1] < losses[0], f"the loss did not go down over {steps} steps on one batch ({losses[0]:.3f} → {losses[-1]:.3f}); "
            f"did you apply the gradients of the loss with respect to model.trainable_variables?")
    return f"loss fell from {losses[0]:.3f} to {losses[-1]:.3f} in {steps} steps on one batch"


# ============================================================================ checks, part 2


@check
def check_vae_loss(vae_loss_function, kl_weight=0.0005):
    """VAE loss = kl_weight · ½ Σ (σ² + μ² − 1 − log σ²) + mean |x − x̂|, per example."""
    import tensorflow as tf

    x = np.zeros((2, 4, 4, 3), np.float32)
    x_recon = np.full((2, 4, 4, 3), 0.25, np.float32)
    x_recon[1] = 0.5
    z_mean = np.array([[0.0, 1.0], [2.0, 0.0]], np.float32)
    z_logvar = np.array([[0.0, np.log(4.0)], [0.0, np.log(0.25)]], np.float32)
    var = np.exp(z_logvar)
    kl = 0.5 * np.sum(var + z_mean**2 - 1.0 - z_logvar, axis=1)
    expected = kl_weight * kl + np.array([0.25, 0.5])
    got = np.asarray(vae_loss_function(tf.constant(x), tf.constant(x_recon), tf.constant(z_mean), tf.constant(z_logvar), kl_weight))
    require(got.shape == (2,), f"return one loss per example, shape (2,), got {got.shape}; reduce over the latent and pixel axes only")
    kl_logsigma = 0.5 * np.sum(np.exp(2 * z_logvar) + z_mean**2 - 1.0 - 2 * z_logvar, axis=1)
    if np.allclose(got, kl_weight * kl_logsigma + [0.25, 0.5], rtol=1e-4):
        require(False, "your KL term treats z_logvar as log σ; here z_logvar is log σ² (use exp(z_logvar), not exp(2·z_logvar))")
    require(np.allclose(got, expected, rtol=1e-4, atol=1e-6),
            f"expected {expected}, got {got}: KL = ½ Σ_j (exp(z_logvar) + z_mean² − 1 − z_logvar), "
            f"reconstruction = mean |x − x_recon| over height, width and channels")
    return "VAE loss matches the closed form (KL with log σ², mean absolute reconstruction error)"


@check
def check_sampling(sampling, n=20000):
    """Reparameterised samples z = μ + exp(½ log σ²)·ε have mean μ and variance σ²."""
    import tensorflow as tf

    z_mean = tf.constant(np.tile([[2.0, -1.0]], (n, 1)).astype(np.float32))
    z_logvar = tf.constant(np.tile([[np.log(0.25), np.log(4.0)]], (n, 1)).astype(np.float32))
    z = np.asarray(sampling(z_mean, z_logvar))
    require(z.shape == (n, 2), f"z should have the shape of z_mean, (batch, latent_dim) = {(n, 2)}, got {z.shape}")
    mean, var = z.mean(axis=0), z.var(axis=0)
    require(np.allclose(mean, [2.0, -1.0], atol=0.06), f"sample means should be z_mean = [2, -1], got {mean}; z = z_mean + σ·ε")
    require(not np.allclose(var, [0.0625, 16.0], rtol=0.1), "variances are σ⁴: you used σ = exp(z_logvar); with log σ², σ = exp(0.5 · z_logvar)")
    require(np.allclose(var, [0.25, 4.0], rtol=0.08), f"sample variances should be exp(z_logvar) = [0.25, 4], got {var}; ε must be drawn from N(0, 1) with tf.random.normal")
    return f"samples have mean {np.round(mean, 2)} and variance {np.round(var, 2)} (expected [2, -1] and [0.25, 4])"


@check
def check_debiasing_loss(debiasing_loss_function, kl_weight=0.0005):
    """DB-VAE loss: mean(classification loss + face indicator × VAE loss); non-faces get no VAE term."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 3)).astype(np.float32)
    x_pred = rng.random((4, 8, 8, 3)).astype(np.float32)
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    y_logit = np.array([[2.0], [-1.0], [-0.5], [0.3]], np.float32)
    z_mean = rng.normal(size=(4, 3)).astype(np.float32)
    z_logvar = rng.normal(size=(4, 3)).astype(np.float32) * 0.5

    def total(xp, zm=z_mean):
        out = debiasing_loss_function(tf.constant(x), tf.constant(xp), tf.constant(y), tf.constant(y_logit), tf.constant(zm), tf.constant(z_logvar))
        loss = out[0] if isinstance(out, (tuple, list)) else out
        return float(np.asarray(loss))

    base = total(x_pred)
    worse_nonface = x_pred.copy()
    worse_nonface[[1, 3]] = 1.0 - x[[1, 3]]
    require(np.isclose(total(worse_nonface), base, rtol=1e-5),
            "changing a non-face's reconstruction changed the loss: multiply the VAE loss by the face indicator (y == 1) so only faces count")
    worse_face = x_pred.copy()
    worse_face[0] = 1.0 - x[0]
    require(not np.isclose(total(worse_face), base, rtol=1e-5),
            "a face's reconstruction does not affect the loss: add face_indicator × vae_loss for faces")
    p = 1 / (1 + np.exp(-y_logit[:, 0]))
    ce = -(y[:, 0] * np.log(p) + (1 - y[:, 0]) * np.log(1 - p))
    kl = 0.5 * np.sum(np.exp(z_logvar) + z_mean**2 - 1 - z_logvar, axis=1)
    vae = kl_weight * kl + np.abs(x - x_pred).mean(axis=(1, 2, 3))
    expected = float(np.mean(ce + y[:, 0] * vae))
    require(np.isclose(base, expected, rtol=1e-4),
            f"expected {expected:.5f}, got {base:.5f}: total = mean over the batch of (sigmoid cross-entropy from logits + face_indicator × vae_loss)")
    return "DB-VAE loss matches the closed form; non-faces add no VAE term"


@check
def check_dbvae(dbvae, latent_dim=None):
    """The DB-VAE's encode/decode/call give the documented outputs and shapes."""
    import tensorflow as tf

    latent_dim = latent_dim or dbvae.latent_dim
    x = tf.random.uniform((3, 64, 64, 3), seed=2)
    enc = dbvae.encode(x)
    require(isinstance(enc, (tuple, list)) and len(enc) == 3, "encode(x) should return (y_logit, z_mean, z_logvar)")
    y_logit, z_mean, z_logvar = (np.asarray(t) for t in enc)
    require(y_logit.shape == (3, 1), f"y_logit should be (batch, 1), got {y_logit.shape}; it is the first encoder output")
    require(z_mean.shape == (3, latent_dim) and z_logvar.shape == (3, latent_dim),
            f"z_mean and z_logvar should be (batch, {latent_dim}), got {z_mean.shape} and {z_logvar.shape}")
    require(not np.allclose(z_mean, z_logvar), "z_mean and z_logvar are identical: slice different parts of the encoder output")
    recon = np.asarray(dbvae.decode(tf.constant(z_mean)))
    require(recon.shape == (3, 64, 64, 3), f"decode(z) should give images (batch, 64, 64, 3), got {recon.shape}")
    out = dbvae(x)
    require(isinstance(out, (tuple, list)) and len(out) == 4, "call(x) should return (y_logit, z_mean, z_logvar, x_recon)")
    require(np.asarray(out[3]).shape == (3, 64, 64, 3), f"x_recon should be (batch, 64, 64, 3), got {np.asarray(out[3]).shape}")
    a, b = np.asarray(dbvae(x)[3]), np.asarray(dbvae(x)[3])
    require(not np.allclose(a, b), "two calls gave the same reconstruction: call() should decode a *sampled* z (reparameterize), not z_mean")
    return f"DB-VAE: encode → (y_logit (batch, 1), z_mean/z_logvar (batch, {latent_dim})), decode → (batch, 64, 64, 3)"


@check
def check_sample_probabilities(get_training_sample_probabilities):
    """Resampling probabilities: one per face, non-negative, summing to 1, larger for rare latent values."""
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(1000, 4)).astype(np.float32)
    mu[:30, 0] += 6.0  # 3 % of the faces sit far out in dimension 0
    p = np.asarray(get_training_sample_probabilities(mu), dtype=np.float64).reshape(-1)
    require(p.shape == (1000,), f"expected one probability per face, shape (1000,), got {p.shape}")
    require(np.all(p >= 0) and np.isfinite(p).all(), "probabilities must be finite and non-negative")
    require(np.isclose(p.sum(), 1.0, atol=1e-6), f"probabilities should sum to 1, got {p.sum():.6f}; normalise at the end")
    rare, common = p[:30].mean(), p[30:].mean()
    require(rare > 2 * common, f"rare latent values should get larger weights: mean p of the 30 outliers {rare:.2e} vs others {common:.2e}; "
            f"use 1 / (density + smoothing) where the density is the histogram's share of faces in each face's bin")
    return f"probabilities sum to 1; the 3 % rare faces get {100 * p[:30].sum():.0f} % of the mass"


@check
def check_dbvae_training(losses, resampling_history, n_faces):
    """The DB-VAE training loop ran, the loss fell and the probabilities were recomputed."""
    losses = np.asarray(losses, dtype=np.float64)
    require(len(losses) > 0 and np.isfinite(losses).all(), "losses should be a non-empty list of finite numbers, one per step")
    k = max(1, len(losses) // 5)
    require(losses[-k:].mean() < losses[:k].mean(), f"the loss did not fall (first {k} steps {losses[:k].mean():.3f}, last {losses[-k:].mean():.3f})")
    require(len(resampling_history) >= 1, "the probabilities were never recomputed: after the warm-up, recompute them every `resample_every` steps")
    for step, p in resampling_history:
        p = np.asarray(p)
        require(p.shape == (n_faces,) and np.isclose(p.sum(), 1.0, atol=1e-6), f"at step {step} the probabilities have shape {p.shape} / sum {p.sum():.4f}; expected ({n_faces},) summing to 1")
    return f"{len(losses)} steps, loss {losses[:k].mean():.3f} → {losses[-k:].mean():.3f}, probabilities recomputed {len(resampling_history)} times"
