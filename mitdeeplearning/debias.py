"""Reference implementations for lab 2, part 2: a face classifier, the DB-VAE, resampling, training.

The notebook has students write the VAE loss, the reparameterisation, the DB-VAE loss and model,
the resampling probabilities and the training loop; this module holds one reference of each so
that benchmarks (``benchmarks/lab2_debias.py``) and the checks can run them.

Names and meanings used throughout (text and code): ``z_mean`` is μ, ``z_logvar`` is **log σ²**
(the log of the variance, not of the standard deviation).
"""

import numpy as np
import tensorflow as tf
import keras

from . import faces

__all__ = [
    "make_standard_classifier",
    "make_face_decoder",
    "vae_loss_function",
    "sampling",
    "debiasing_loss_function",
    "DB_VAE",
    "get_latent_mu",
    "principal_projection",
    "get_training_sample_probabilities",
    "effective_sample_size",
    "oracle_probabilities",
    "train_classifier",
    "train_dbvae",
    "evaluate_groups",
]

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


def vae_loss_function(x, x_recon, z_mean, z_logvar, kl_weight=0.0005):
    """Per-example VAE loss = kl_weight · KL(N(μ, σ²) ‖ N(0, 1)) + mean |x − x̂|.

    KL = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), with ``z_logvar`` = log σ². Returns shape (batch,).
    """
    latent_loss = 0.5 * tf.reduce_sum(tf.exp(z_logvar) + tf.square(z_mean) - 1.0 - z_logvar, axis=1)
    reconstruction_loss = tf.reduce_mean(tf.abs(x - x_recon), axis=(1, 2, 3))
    return kl_weight * latent_loss + reconstruction_loss


def sampling(z_mean, z_logvar):
    """Reparameterisation: z = μ + σ·ε with σ = exp(½ log σ²) and ε ~ N(0, 1)."""
    epsilon = tf.random.normal(tf.shape(z_mean))
    return z_mean + tf.exp(0.5 * z_logvar) * epsilon


def debiasing_loss_function(x, x_pred, y, y_logit, z_mean, z_logvar, kl_weight=0.0005):
    """Mean over the batch of: classification loss + face indicator × VAE loss.

    Non-faces (y = 0) contribute only their classification loss: the VAE models faces.
    Returns (total_loss, classification_loss per example).
    """
    vae_loss = vae_loss_function(x, x_pred, z_mean, z_logvar, kl_weight)
    y = tf.reshape(tf.cast(y, tf.float32), (-1, 1))
    classification_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)[:, 0]
    face_indicator = tf.cast(tf.equal(y[:, 0], 1.0), tf.float32)
    total_loss = tf.reduce_mean(classification_loss + face_indicator * vae_loss)
    return total_loss, classification_loss


class DB_VAE(keras.Model):
    """Debiasing VAE: the classifier's encoder outputs a face logit and a latent Gaussian per image.

    ``call(x)`` returns ``(y_logit, z_mean, z_logvar, x_recon)``.
    """

    def __init__(self, latent_dim, n_filters=12, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        # outputs: 1 face logit, latent_dim means, latent_dim log-variances
        self.encoder = make_standard_classifier(2 * latent_dim + 1, n_filters)
        self.decoder = make_face_decoder(latent_dim, n_filters)

    def encode(self, x, training=False):
        out = self.encoder(x, training=training)
        y_logit = out[:, :1]
        z_mean = out[:, 1:self.latent_dim + 1]
        z_logvar = out[:, self.latent_dim + 1:]
        return y_logit, z_mean, z_logvar

    def reparameterize(self, z_mean, z_logvar):
        return sampling(z_mean, z_logvar)

    def decode(self, z, training=False):
        return self.decoder(z, training=training)

    def call(self, x, training=False):
        y_logit, z_mean, z_logvar = self.encode(x, training=training)
        z = self.reparameterize(z_mean, z_logvar)
        x_recon = self.decode(z, training=training)
        return y_logit, z_mean, z_logvar, x_recon

    def predict(self, x, batch_size=None, **kwargs):  # the face logit only, as the course's API
        y_logit, _, _ = self.encode(x, training=False)
        return y_logit


def get_latent_mu(images, dbvae, batch_size=512):
    """z_mean of every image (a NumPy array, or an iterable of batches), shape (N, latent_dim)."""
    encode = _encoder_fn(dbvae)
    if isinstance(images, np.ndarray):
        batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    else:
        batches = images
    return np.concatenate([encode(tf.convert_to_tensor(b)).numpy() for b in batches])


def _encoder_fn(dbvae):
    fn = getattr(dbvae, "_mu_fn", None)
    if fn is None:
        fn = tf.function(lambda x: dbvae.encode(x, training=False)[1], reduce_retracing=True)
        dbvae._mu_fn = fn
    return fn


def principal_projection(mu, n_components):
    """``mu`` (N, d) centred and projected on its first ``n_components`` principal directions.

    ``None`` returns ``mu`` unchanged. The principal directions are those along which the faces'
    latent means vary most (right singular vectors of the centred matrix).
    """
    if n_components is None:
        return mu
    centred = mu - mu.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:n_components].T


def get_training_sample_probabilities(mu, bins=10, smoothing_fac=0.001, combine="max", n_components=None):
    """Sampling probabilities over faces that favour rare latent values (Amini et al., 2019).

    For every latent dimension j, a histogram with ``bins`` bins estimates the density Q̂_j of
    μ_j over all training faces; a face's weight in that dimension is 1 / (Q̂_j(μ_j) + α) with
    α = ``smoothing_fac`` (normalised densities, so α is a share of the mass).

    ``combine`` joins the dimensions: ``"product"`` is the paper's W(x) ∝ Π_j 1/(Q̂_j + α);
    ``"max"`` (the 2020 course code) takes each face's largest normalised per-dimension weight,
    which is far less extreme. Returns float64 probabilities of shape (N,) summing to 1.

    ``n_components`` (our variant, not the paper's): first project the centred μ onto its
    ``n_components`` principal directions (the directions of largest variation over the faces)
    and build the histograms there, so that dimensions holding little variation (whose tails are
    filled by nuisance factors) do not spread the weight over every face.
    """
    mu = principal_projection(np.asarray(mu, dtype=np.float64), n_components)
    n, d = mu.shape
    log_w = np.zeros(n) if combine == "product" else np.full(n, -np.inf)
    for j in range(d):
        density, edges = np.histogram(mu[:, j], bins=bins)
        density = density / n + smoothing_fac  # share of the faces in each bin, smoothed
        bin_idx = np.clip(np.digitize(mu[:, j], edges[1:-1]), 0, bins - 1)
        w = 1.0 / density[bin_idx]
        if combine == "product":
            log_w += np.log(w)
        elif combine == "max":
            log_w = np.maximum(log_w, np.log(w / w.sum()))
        else:
            raise ValueError(f"combine must be 'product' or 'max', got {combine!r}")
    w = np.exp(log_w - log_w.max())  # in log space: the product over 32 dimensions overflows
    return w / w.sum()


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


# ----------------------------------------------------------------------------- training


def train_classifier(model, loader, steps, batch_size=32, learning_rate=5e-4, p_pos=None, progress=True):
    """Train a face classifier with Adam on half-face/half-non-face batches; returns the loss list."""
    from tqdm.auto import tqdm

    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    for _ in tqdm(range(steps), desc="classifier", disable=not progress):
        x, y = loader.get_batch(batch_size, p_pos=p_pos)
        losses.append(float(step(tf.constant(x), tf.constant(y))))
    return losses


def train_dbvae(
    dbvae,
    loader,
    steps,
    batch_size=32,
    learning_rate=5e-4,
    debias=True,
    warmup_steps=100,
    resample_every=50,
    bins=10,
    smoothing_fac=0.001,
    combine="max",
    n_components=None,
    kl_weight=0.0005,
    progress=True,
    on_resample=None,
):
    """Train a DB-VAE; with ``debias`` the face half of each batch is resampled from the latent density.

    The first ``warmup_steps`` use uniform sampling (an untrained encoder's latent means nothing);
    after that the probabilities are recomputed every ``resample_every`` steps from the means μ of
    all training faces. ``on_resample(step, p)`` is called after each recomputation.
    Returns (losses, history) where history lists (step, p) pairs.
    """
    from tqdm.auto import tqdm

    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            y_logit, z_mean, z_logvar, x_recon = dbvae(x, training=True)
            loss, _ = debiasing_loss_function(x, x_recon, y, y_logit, z_mean, z_logvar, kl_weight)
        grads = tape.gradient(loss, dbvae.trainable_variables)
        optimizer.apply_gradients(zip(grads, dbvae.trainable_variables))
        return loss

    losses, history, p_pos = [], [], None
    for i in tqdm(range(steps), desc="DB-VAE" if debias else "VAE (uniform)", disable=not progress):
        if debias and i >= warmup_steps and (i - warmup_steps) % resample_every == 0:
            mu = get_latent_mu(loader.iter_train_faces(), dbvae)
            p_pos = get_training_sample_probabilities(mu, bins, smoothing_fac, combine, n_components)
            history.append((i, p_pos))
            if on_resample is not None:
                on_resample(i, p_pos)
        x, y = loader.get_batch(batch_size, p_pos=p_pos)
        losses.append(float(step(tf.constant(x), tf.constant(y))))
    return losses, history


def predict_logits(predict, images, batch_size=256):
    """Face logits for ``images`` via ``predict(batch) -> (batch, 1)`` logits, as a NumPy vector."""
    out = [np.asarray(predict(tf.constant(images[i:i + batch_size]))).reshape(-1) for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def evaluate_groups(predict, images, labels, groups, threshold=0.0):
    """Per-group face recall, non-face accuracy and overall accuracy of a face detector.

    ``predict(batch)`` returns face logits; a logit above ``threshold`` (0 ⇔ probability 0.5)
    counts as "face". ``groups`` holds the group index (:data:`faces.GROUPS`) per image, -1 for
    non-faces. Returns a dict with ``recall`` (one entry per group), ``nonface_accuracy``,
    ``accuracy`` and ``gap`` (mean recall of the lighter groups minus that of the darker ones,
    in percentage points).
    """
    logits = predict_logits(predict, images)
    is_face = logits > threshold
    labels = np.asarray(labels).reshape(-1)
    groups = np.asarray(groups)
    recall = [float(np.mean(is_face[groups == g])) for g in range(len(faces.GROUPS))]
    nonface_accuracy = float(np.mean(~is_face[labels == 0]))
    accuracy = float(np.mean(is_face == (labels == 1)))
    gap = 100.0 * (np.mean(recall[:2]) - np.mean(recall[2:]))
    return {"recall": recall, "nonface_accuracy": nonface_accuracy, "accuracy": accuracy, "gap": float(gap)}
