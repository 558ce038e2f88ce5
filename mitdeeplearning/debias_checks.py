"""The checks of lab 2, part 2 (debiasing): the VAE loss, sampling, the DB-VAE loss and model, the
resampling weights, the training loop and its run.

Each ``check_*`` prints one ✔ line or raises ``AssertionError`` with a hint (see
:mod:`mitdeeplearning.checks`). The training loop is judged by running it: a stand-in loader and a
small stand-in model (the spy harness below) record every batch it draws and every pass over the
faces, so the check sees when and with what probabilities the loop resampled. TensorFlow is
imported by the checks that need it.
"""

from itertools import product

import numpy as np

from .checks import attempt, check, require

__all__ = ["check_vae_loss", "check_sampling", "check_debiasing_loss", "check_dbvae", "check_sample_probabilities",
           "check_resampling_loop", "check_dbvae_training"]


_VAE_FIX = ("vae_loss = kl_weight * latent_loss + reconstruction_loss, one value per example: latent_loss = "
            "0.5 * tf.reduce_sum(tf.exp(z_logvar) + z_mean**2 - 1 - z_logvar, axis=1) and reconstruction_loss = "
            "tf.reduce_mean(tf.abs(x - x_recon), axis=(1, 2, 3))")


@check
def check_vae_loss(vae_loss_function):
    """VAE loss = kl_weight · ½ Σ (σ² + μ² − 1 − log σ²) + mean |x − x̂|, per example.

    The check passes its own ``kl_weight`` (0.3), so that the KL term weighs enough to be seen and
    a function that ignores its argument is caught; the notebook's ``kl_weight`` plays no part.
    """
    import tensorflow as tf

    weight = 0.3
    rng = np.random.default_rng(4)
    x = rng.random((3, 4, 4, 3)).astype(np.float32)
    x_recon = rng.random((3, 4, 4, 3)).astype(np.float32)
    z_mean = np.array([[0.0, 1.0], [2.0, -0.5], [0.5, 0.3]], np.float32)
    z_logvar = np.array([[0.0, np.log(4.0)], [0.3, np.log(0.25)], [-1.0, 0.7]], np.float32)
    out = attempt(vae_loss_function, tf.constant(x), tf.constant(x_recon), tf.constant(z_mean), tf.constant(z_logvar),
                  weight, fix=_VAE_FIX)
    require(out is not None, "vae_loss_function returned None: return vae_loss")
    got = np.asarray(out, dtype=np.float64)
    if got.shape == (3, 2):
        require(False, "the KL term still has one value per latent dimension: sum it over axis=1, tf.reduce_sum(..., axis=1)")
    require(got.size != 1, "return one loss per example, shape (batch,): reduce over the latent and pixel axes only, not over the batch")
    require(got.shape == (3,), f"return one loss per example, shape (3,), got {got.shape}; reduce over the latent and pixel axes only")
    m, lv = z_mean.astype(np.float64), z_logvar.astype(np.float64)
    d = x.astype(np.float64) - x_recon
    kl = 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1)
    rec = np.abs(d).mean(axis=(1, 2, 3))
    if np.allclose(got, weight * kl + rec, rtol=1e-4, atol=1e-6):
        return "VAE loss matches the closed form (KL with log σ², mean absolute reconstruction error)"
    kls = [
        (kl, None),
        (0.5 * np.sum(np.exp(2 * lv) + m**2 - 1 - 2 * lv, axis=1),
         "your KL term treats z_logvar as log σ; here z_logvar is log σ² (use exp(z_logvar), not exp(2·z_logvar))"),
        (np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1), "the KL term is missing its factor 0.5"),
        (0.5 * np.mean(np.exp(lv) + m**2 - 1 - lv, axis=1), "sum the KL term over the latent dimensions (tf.reduce_sum), not the mean"),
        (-kl, "the KL term has the wrong sign: 0.5 * Σ (exp(z_logvar) + z_mean² − 1 − z_logvar) is ≥ 0"),
        (0.5 * np.sum(lv + m**2 - 1 - lv, axis=1), "the KL term needs exp(z_logvar) (the variance σ²), not z_logvar itself"),
        (0.5 * np.sum(np.exp(lv) + m - 1 - lv, axis=1), "square z_mean in the KL term: z_mean**2"),
    ]
    recs = [
        (rec, None),
        ((d**2).mean(axis=(1, 2, 3)), "the reconstruction error is the mean absolute difference, mean |x − x_recon| (tf.abs), not the squared one"),
        (np.abs(d).sum(axis=(1, 2, 3)), "the reconstruction error is the mean over height, width and channels (tf.reduce_mean), not the sum"),
        (d.mean(axis=(1, 2, 3)), "take the absolute value of the difference: mean |x − x_recon|, tf.abs(x - x_recon)"),
    ]
    weights = [(weight, None), (0.0005, "multiply the KL term by the kl_weight argument (the check passed 0.3), not a fixed 0.0005"),
               (1.0, "multiply the KL term by kl_weight")]
    for (k, hk), (r, hr), (w, hw) in product(kls, recs, weights):
        if np.allclose(got, w * k + r, rtol=1e-4, atol=1e-6):
            hints = [h for h in (hk, hr, hw) if h]
            require(False, "; ".join(hints) + f" — {_VAE_FIX}")
    expected = weight * kl + rec
    require(False, f"with kl_weight=0.3 expected {np.round(expected, 5)}, got {np.round(got, 5)}: {_VAE_FIX}")


_SAMPLING_FIX = "z = z_mean + tf.exp(0.5 * z_logvar) * epsilon with epsilon = tf.random.normal(tf.shape(z_mean))"


@check
def check_sampling(sampling, n=20000):
    """Reparameterised samples z = μ + exp(½ log σ²)·ε have mean μ, variance σ², fresh independent ε in a graph too."""
    import tensorflow as tf

    z_mean = tf.constant(np.tile([[2.0, -1.0]], (n, 1)).astype(np.float32))
    z_logvar = tf.constant(np.tile([[np.log(0.25), np.log(4.0)]], (n, 1)).astype(np.float32))
    z = attempt(sampling, z_mean, z_logvar, fix=_SAMPLING_FIX)
    require(z is not None, "sampling returned None: return z")
    z = np.asarray(z, dtype=np.float64)
    require(z.shape == (n, 2), f"z should have the shape of z_mean, (batch, latent_dim) = {(n, 2)}, got {z.shape}")
    require(np.isfinite(z).all(), f"z has nan or inf values: σ = exp(0.5 * z_logvar) (z_logvar is negative for σ < 1, "
            f"so its square root or log gives nan)")
    mean, var = z.mean(axis=0), z.var(axis=0)
    require(np.all(var > 1e-6), "z does not vary across the batch: every row got the same ε; draw ε with the shape of "
            "z_mean, tf.random.normal(tf.shape(z_mean))")
    if not np.allclose(mean, [2.0, -1.0], atol=0.06):
        if np.allclose(mean, 0, atol=0.06):
            require(False, f"sample means are {np.round(mean, 2)}, not z_mean = [2, -1]: add z_mean, z = z_mean + σ·ε")
        require(False, f"sample means should be z_mean = [2, -1], got {np.round(mean, 2)}; ε needs mean 0 (tf.random.normal): {_SAMPLING_FIX}")
    if not np.allclose(var, [0.25, 4.0], rtol=0.08):
        diagnoses = [
            ([0.0625, 16.0], "variances are σ⁴: you used σ = exp(z_logvar); with log σ², σ = exp(0.5 · z_logvar)"),
            ([np.log(0.25) ** 2, np.log(4.0) ** 2], "σ is exp(0.5 * z_logvar), not z_logvar itself"),
            ([0.25**2 / 4, 4.0**2 / 4], "the ½ goes inside the exponent: σ = exp(0.5 * z_logvar), not 0.5 * exp(z_logvar)"),
            ([0.25 / 12, 4.0 / 12], "ε must be drawn from N(0, 1) with tf.random.normal, not from a uniform distribution"),
            ([0.25 / 3, 4.0 / 3], "ε must be drawn from N(0, 1) with tf.random.normal, not from a uniform distribution"),
        ]
        hint = next((h for v, h in diagnoses if np.allclose(var, v, rtol=0.1)),
                    f"sample variances should be exp(z_logvar) = [0.25, 4]: {_SAMPLING_FIX}")
        require(False, f"sample variances are {np.round(var, 3)}: {hint}")
    corr = np.corrcoef(z.T)[0, 1]
    require(abs(corr) < 0.1, f"the two latent dimensions are correlated ({corr:.2f}): one ε per row was shared across "
            f"dimensions; draw ε with the full shape of z_mean, tf.random.normal(tf.shape(z_mean))")
    small_mean, small_logvar = z_mean[:4], z_logvar[:4]
    graph = tf.function(sampling)
    a = np.asarray(attempt(graph, small_mean, small_logvar, fix=f"inside a tf.function: {_SAMPLING_FIX}"))
    b = np.asarray(graph(small_mean, small_logvar))
    require(not np.allclose(a, b), "inside a tf.function (as in training) two calls gave the same z: NumPy's random "
            "numbers are fixed when TensorFlow traces the graph; draw ε with tf.random.normal")
    return f"samples have mean {np.round(mean, 2)} and variance {np.round(var, 2)} (expected [2, -1] and [0.25, 4])"


_DEBIAS_FIX = ("classification_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)[:, 0] (shape "
               "(batch,)); face_indicator = tf.cast(tf.equal(y[:, 0], 1.0), tf.float32) (shape (batch,)); total_loss = "
               "tf.reduce_mean(classification_loss + face_indicator * vae_loss)")


@check
def check_debiasing_loss(debiasing_loss_function, kl_weight):
    """DB-VAE loss: mean(classification loss + face indicator × VAE loss); non-faces get no VAE term.

    ``debiasing_loss_function`` is called with ``kl_weight``, as the training step calls it: pass
    the notebook's value (the parameters cell's ``kl_weight``).
    """
    import tensorflow as tf

    require(isinstance(kl_weight, (int, float, np.number)) and not isinstance(kl_weight, bool),
            f"kl_weight should be the number from the parameters cell, got {type(kl_weight).__name__}: "
            f"check_debiasing_loss(debiasing_loss_function, kl_weight)")

    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 3)).astype(np.float32)
    x_pred = rng.random((4, 8, 8, 3)).astype(np.float32)
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    y_logit = np.array([[2.0], [-1.0], [-0.5], [0.3]], np.float32)
    z_mean = rng.normal(size=(4, 3)).astype(np.float32)
    z_logvar = rng.normal(size=(4, 3)).astype(np.float32) * 0.5

    def run(xp):
        out = attempt(debiasing_loss_function, tf.constant(x), tf.constant(xp), tf.constant(y), tf.constant(y_logit),
                      tf.constant(z_mean), tf.constant(z_logvar), kl_weight, fix=_DEBIAS_FIX)
        require(out is not None, "debiasing_loss_function returned None")
        loss = out[0] if isinstance(out, (tuple, list)) else out
        cls = out[1] if isinstance(out, (tuple, list)) and len(out) > 1 else None
        arr = np.asarray(loss, dtype=np.float64)
        require(arr.size == 1, f"total_loss should be one number, the batch mean, got shape {arr.shape}: tf.reduce_mean(...)")
        return float(arr.reshape(-1)[0]), cls

    base, cls = run(x_pred)
    yv = y[:, 0].astype(np.float64)
    logit = y_logit[:, 0].astype(np.float64)
    p = 1 / (1 + np.exp(-logit))
    ce = -(yv * np.log(p) + (1 - yv) * np.log(1 - p))
    kl = 0.5 * np.sum(np.exp(z_logvar) + z_mean**2 - 1 - z_logvar, axis=1)
    vae = kl_weight * kl + np.abs(x - x_pred).mean(axis=(1, 2, 3))
    expected = float(np.mean(ce + yv * vae))
    if not np.isclose(base, expected, rtol=1e-4):
        pc = np.clip(logit, 1e-7, 1 - 1e-7)
        ce_probs = -(yv * np.log(pc) + (1 - yv) * np.log(1 - pc))
        swapped = np.maximum(yv, 0) - yv * logit + np.log1p(np.exp(-np.abs(yv)))  # sigmoid_ce(labels=logit, logits=y)
        variants = [
            (np.mean(ce) + np.mean(yv) * np.mean(vae),
             "a (batch, 1) tensor met a (batch,) one and broadcast to (batch, batch): y arrives as (batch, 1), so squeeze "
             "the face indicator and the classification loss to (batch,), e.g. y[:, 0] or tf.squeeze(..., axis=1)"),
            (np.mean(ce + vae), "the VAE loss counts for non-faces too: multiply it by the face indicator (1.0 where y == 1) so only faces count"),
            (np.mean(ce + (1 - yv) * vae), "the face indicator is inverted: it is 1.0 where y == 1 (faces), 0.0 for non-faces"),
            (np.mean(ce), "the VAE term is missing: add face_indicator * vae_loss for the faces"),
            (np.mean(yv * (ce + vae)), "the classification loss counts for every image; multiply only the VAE loss by the face indicator"),
            (np.mean(yv * vae), "the classification loss is missing: sigmoid cross-entropy from the logits, "
             "tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)"),
            (np.sum(ce + yv * vae), "total_loss is the batch mean: tf.reduce_mean, not tf.reduce_sum"),
            (np.mean(ce_probs + yv * vae), "y_logit holds logits, not probabilities: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)"),
            (np.mean(swapped + yv * vae), "labels and logits are swapped: sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)"),
        ]
        for value, hint in variants:
            if np.isclose(base, value, rtol=1e-4):
                require(False, hint)
        worse_nonface = x_pred.copy()
        worse_nonface[[1, 3]] = 1.0 - x[[1, 3]]
        require(np.isclose(run(worse_nonface)[0], base, rtol=1e-5),
                "changing a non-face's reconstruction changed the loss: only faces (y == 1) get the VAE term — multiply "
                "the VAE loss by a face indicator of shape (batch,)")
        worse_face = x_pred.copy()
        worse_face[0] = 1.0 - x[0]
        require(not np.isclose(run(worse_face)[0], base, rtol=1e-5),
                "a face's reconstruction does not affect the loss: add face_indicator × vae_loss for faces")
        require(False, f"expected {expected:.5f}, got {base:.5f}: {_DEBIAS_FIX}")
    if cls is not None:
        cls = np.asarray(cls)
        require(cls.shape == (4,), f"classification_loss should have shape (batch,), got {cls.shape}: take [:, 0] of the "
                f"(batch, 1) cross-entropy")
    return "DB-VAE loss matches the closed form; non-faces add no VAE term"


_ENCODE_FIX = ("y_logit = encoder_output[:, :1], z_mean = encoder_output[:, 1:self.latent_dim + 1], "
               "z_logvar = encoder_output[:, self.latent_dim + 1:]")


_CALL_FIX = ("call(): y_logit, z_mean, z_logvar = self.encode(x); z = self.reparameterize(z_mean, z_logvar); "
             "x_recon = self.decode(z)")


def _check_slices(dbvae, x, latent_dim):
    enc = attempt(dbvae.encode, x, fix=_ENCODE_FIX)
    require(isinstance(enc, (tuple, list)) and len(enc) == 3, "encode(x) should return (y_logit, z_mean, z_logvar)")
    eo = np.asarray(dbvae.encoder(x, training=False))
    L = latent_dim
    y_logit, z_mean, z_logvar = (np.asarray(t) for t in enc)
    if y_logit.shape == (len(eo),):
        require(False, "y_logit lost its second axis: keep it 2-d, encoder_output[:, :1] (shape (batch, 1)), not [:, 0]")
    require(y_logit.shape == (len(eo), 1), f"y_logit should be (batch, 1), got {y_logit.shape}: the first column, encoder_output[:, :1]")
    require(np.allclose(y_logit, eo[:, :1]), "y_logit should be the first column of the encoder output: encoder_output[:, :1]")
    require(z_mean.shape == (len(eo), L), f"z_mean should be (batch, latent_dim) = (batch, {L}), got {z_mean.shape}: "
            f"the next latent_dim columns, encoder_output[:, 1:self.latent_dim + 1]")
    if np.allclose(z_mean, eo[:, :L]):
        require(False, "z_mean starts at column 0, which is y_logit: take encoder_output[:, 1:self.latent_dim + 1]")
    require(np.allclose(z_mean, eo[:, 1:L + 1]), "z_mean should be columns 1 … latent_dim: encoder_output[:, 1:self.latent_dim + 1]")
    require(z_logvar.shape == (len(eo), L), f"z_logvar should be (batch, {L}), got {z_logvar.shape}: the remaining columns, "
            f"encoder_output[:, self.latent_dim + 1:]")
    require(not np.allclose(z_mean, z_logvar), "z_mean and z_logvar are identical: slice different parts of the encoder output")
    require(np.allclose(z_logvar, eo[:, L + 1:]), "z_logvar should be the last latent_dim columns: encoder_output[:, self.latent_dim + 1:]")
    return y_logit, z_mean, z_logvar


@check
def check_dbvae(dbvae, latent_dim=None):
    """encode slices the encoder output as documented; call() decodes a sampled z (observed through spies)."""
    import tensorflow as tf

    latent_dim = latent_dim or dbvae.latent_dim
    x = tf.random.uniform((4, 64, 64, 3), seed=2)
    y_logit, z_mean, z_logvar = _check_slices(dbvae, x, latent_dim)
    other = type(dbvae)(latent_dim + 3)
    enc = attempt(other.encode, x, fix=_ENCODE_FIX)
    require(np.asarray(enc[1]).shape == (4, latent_dim + 3),
            f"with latent_dim={latent_dim + 3}, z_mean has shape {np.asarray(enc[1]).shape}: slice with self.latent_dim, not a fixed number")
    recon = np.asarray(attempt(dbvae.decode, tf.constant(z_mean), fix=_CALL_FIX))
    require(recon.shape == (4, 64, 64, 3), f"decode(z) should give images (batch, 64, 64, 3), got {recon.shape}")
    seen = {}
    real_decode, real_reparam = dbvae.decode, dbvae.reparameterize

    def spy_decode(z, *args, **kwargs):
        seen["z"] = np.asarray(z)
        return real_decode(z, *args, **kwargs)

    def spy_reparameterize(*args, **kwargs):
        seen["reparam"] = [np.asarray(a) for a in args] + [np.asarray(v) for v in kwargs.values()]
        return real_reparam(*args, **kwargs)

    object.__setattr__(dbvae, "decode", spy_decode)
    object.__setattr__(dbvae, "reparameterize", spy_reparameterize)
    try:
        out = attempt(dbvae, x, fix=_CALL_FIX)
    finally:
        object.__delattr__(dbvae, "decode")
        object.__delattr__(dbvae, "reparameterize")
    require(isinstance(out, (tuple, list)) and len(out) == 4, "call(x) should return (y_logit, z_mean, z_logvar, x_recon)")
    require(np.allclose(np.asarray(out[1]), z_mean) and np.allclose(np.asarray(out[2]), z_logvar),
            f"call() should return the z_mean and z_logvar of self.encode(x): {_CALL_FIX}")
    require(np.asarray(out[3]).shape == (4, 64, 64, 3), f"x_recon should be (batch, 64, 64, 3), got {np.asarray(out[3]).shape}")
    if "reparam" in seen and len(seen["reparam"]) == 2:
        a, b = seen["reparam"]
        if np.allclose(a, z_logvar) and np.allclose(b, z_mean) and not np.allclose(a, b):
            require(False, "reparameterize got its arguments swapped: self.reparameterize(z_mean, z_logvar), the mean first")
    if "z" in seen:
        require(not np.allclose(seen["z"], z_mean), "call() decodes z_mean itself: decode a *sampled* z = self.reparameterize(z_mean, z_logvar)")
    a, b = np.asarray(dbvae(x)[3]), np.asarray(dbvae(x)[3])
    require(not np.allclose(a, b), "two calls gave the same reconstruction: call() should decode a *sampled* z (reparameterize), not z_mean")
    return f"DB-VAE: encode → (y_logit (batch, 1), z_mean/z_logvar (batch, {latent_dim})), call decodes a sampled z"


def _histogram_weights(mu, bins, smoothing, digitize_edges="inner", share=True, combine="max", normalise=True,
                       invert=True, smooth_before=True, dims=None):
    """The text's per-dimension histogram weights, and the deviations from it that the check recognises."""
    mu = np.asarray(mu, dtype=np.float64)
    n, d = mu.shape
    per_dim = []
    for j in (range(d) if dims is None else dims):
        counts, edges = np.histogram(mu[:, j], bins=bins)
        if share == "density":
            dens = np.histogram(mu[:, j], bins=bins, density=True)[0]
        else:
            dens = counts / n if share else counts.astype(np.float64)
        inner = edges[1:-1] if digitize_edges == "inner" else edges
        idx = np.clip(np.digitize(mu[:, j], inner), 0, bins - 1)
        if smooth_before:
            w = 1.0 / (dens[idx] + smoothing) if invert else dens[idx] + smoothing
        else:
            w = 1.0 / dens[idx] + smoothing
        per_dim.append(w / w.sum() if normalise else w)
    per_dim = np.stack(per_dim)
    if combine == "max":
        p = per_dim.max(axis=0)
    elif combine == "sum":
        p = per_dim.sum(axis=0)
    elif combine == "product":
        p = np.exp(np.log(per_dim).sum(axis=0) - np.log(per_dim).sum(axis=0).max())
    else:
        p = per_dim[-1]
    return p / p.sum()


def _tv(p, q):
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


@check
def check_sample_probabilities(get_training_sample_probabilities, bins, smoothing_fac):
    """The weights equal a reference the check computes from the same bins and smoothing.

    Pass the notebook's ``bins`` and ``smoothing``; the check also tries other values, so a
    function that ignores its ``bins`` or ``smoothing_fac`` arguments is caught.
    """
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(600, 3)).astype(np.float32)
    mu[:20, 0] += 6.0   # a rare cluster in dimension 0
    mu[:, 1] *= 3.0
    mu[-30:, 2] -= 4.0  # another, in dimension 2
    fix = ("for every dimension j: counts, edges = np.histogram(mu[:, j], bins=bins); share = counts / n + smoothing_fac; "
           "bin = np.digitize(mu[:, j], edges[1:-1]); p = 1 / share[bin], normalised; keep np.maximum over dimensions")
    for b, s in ((bins, smoothing_fac), (7, 0.01)):
        out = attempt(get_training_sample_probabilities, mu, bins=b, smoothing_fac=s, fix=fix)
        require(out is not None, "get_training_sample_probabilities returned None: return the probabilities")
        p = np.asarray(out, dtype=np.float64).reshape(-1)
        require(p.shape == (600,), f"expected one probability per face, shape (600,), got {np.shape(out)}")
        require(np.isfinite(p).all() and np.all(p >= 0), "probabilities must be finite and non-negative: add smoothing_fac "
                "to each bin's share before inverting it")
        require(np.isclose(p.sum(), 1.0, atol=1e-6), f"probabilities should sum to 1, got {p.sum():.6f}; normalise at the end")
        ref = _histogram_weights(mu, b, s)
        if _tv(p, ref) < 2e-3:
            continue
        variants = [
            (dict(smoothing=0.0), "add smoothing_fac to every bin's share before inverting it"),
            (dict(share=False), "turn the counts into shares of all n faces (counts / n) before adding smoothing_fac"),
            (dict(share="density"), "use each bin's share of the faces, counts / n, not np.histogram's density=True"),
            (dict(digitize_edges="all"), "find each face's bin with np.digitize on the inner edges, edges[1:-1] "
             "(on all edges every bin index is one too high)"),
            (dict(combine="product"), "keep the elementwise maximum over the dimensions (np.maximum), not the product"),
            (dict(combine="sum"), "keep the elementwise maximum over the dimensions (np.maximum), not the sum"),
            (dict(combine="last"), "each dimension overwrote the last: keep the elementwise maximum, "
             "training_sample_p = np.maximum(training_sample_p, p)"),
            (dict(dims=[0]), "loop over every latent dimension, not only the first"),
            (dict(normalise=False), "normalise p to sum to 1 in each dimension before taking the maximum"),
            (dict(invert=False), "the weight is 1 / (its bin's smoothed share): rare bins must get large weights"),
            (dict(smooth_before=False), "add smoothing_fac to the share before inverting: 1 / (share + smoothing_fac)"),
        ]
        if (b, s) != (bins, smoothing_fac):
            variants += [
                (dict(bins=bins), "use the bins argument, not a fixed number of bins"),
                (dict(smoothing=smoothing_fac), "use the smoothing_fac argument, not a fixed value"),
            ]
        matched = []
        for kwargs, hint in variants:
            kwargs = dict(kwargs)
            vb, vs = kwargs.pop("bins", b), kwargs.pop("smoothing", s)
            with np.errstate(divide="ignore", invalid="ignore"):
                alt = _histogram_weights(mu, vb, vs, **kwargs)
            if np.isfinite(alt).all() and _tv(p, alt) < 2e-3:
                matched.append(hint)
        # some deviations give the same weights (raw counts + a small smoothing ≈ unsmoothed shares): name each
        require(not matched, "; or ".join(matched))
        require(False, f"with bins={b}, smoothing_fac={s} the probabilities differ from the histogram weights the text "
                f"describes (total variation {_tv(p, ref):.3f}): {fix}")
    return f"probabilities match the histogram weights (bins={bins}, smoothing {smoothing_fac}), also with other bins and smoothing"


class _SpyLoader:
    """Stands in for the face loader while the check runs the student's training loop."""

    def __init__(self, n_faces=10, shape=(4, 4, 3), seed=0):
        rng = np.random.default_rng(seed)
        self.faces = rng.random((n_faces,) + shape).astype(np.float32)
        self.nonfaces = rng.random((n_faces,) + shape).astype(np.float32)
        self.pos_train_inds = np.arange(n_faces)
        self.events = []  # ("batch", p_pos) per get_batch, ("faces", n_batches) per pass over the faces
        self.rng = rng

    def get_batch(self, n, only_faces=False, p_pos=None, p_neg=None, return_inds=False):
        self.events.append(("batch", None if p_pos is None else np.array(p_pos, dtype=np.float64)))
        half = n // 2
        i = self.rng.choice(len(self.faces), half)
        x = np.concatenate([self.faces[i], self.nonfaces[self.rng.choice(len(self.faces), n - half)]])
        y = np.concatenate([np.ones((half, 1)), np.zeros((n - half, 1))]).astype(np.float32)
        return x, y

    def iter_train_faces(self, batch_size=512):
        self.events.append(("faces", None))
        for start in range(0, len(self.faces), 4):
            yield self.faces[start:start + 4]

    def get_train_size(self):
        return 2 * len(self.faces)

    def __getattr__(self, name):
        raise AttributeError(f"the check's stand-in loader has no {name!r}; the loop needs only get_batch and iter_train_faces")


def _spy_model(latent_dim):
    import tensorflow as tf

    class SpyDBVAE(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.latent_dim = latent_dim
            self.head = tf.keras.layers.Dense(1 + latent_dim)
            self.out_layer = tf.keras.layers.Dense(48, activation="sigmoid")
            self.mean_matrix = tf.constant(np.random.default_rng(1).normal(size=(48, latent_dim)).astype(np.float32))

        def encode(self, x, training=False):
            flat = tf.reshape(x, (-1, 48))
            h = self.head(flat)
            return h[:, :1], tf.matmul(flat, self.mean_matrix), h[:, 1:]

        def decode(self, z, training=False):
            return tf.reshape(self.out_layer(z), (-1, 4, 4, 3))

        def call(self, x, training=False):
            y_logit, z_mean, z_logvar = self.encode(x)
            return y_logit, z_mean, z_logvar, self.decode(z_mean + 0.0 * z_logvar)

    model = SpyDBVAE()
    model(np.zeros((1, 4, 4, 3), np.float32))
    return model


class _QuietPlotter:
    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def plot(self, *args, **kwargs):
        pass

    def finish(self, *args, **kwargs):
        pass


class _Proxy:
    def __init__(self, real, **overrides):
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._real, name)


def _observe_loop(train_dbvae, settings, debias, steps, warmup, every):
    """Run ``train_dbvae`` on the stand-in loader and model with a short schedule; record what it does.

    The loop receives its loader and settings as arguments; only the notebook functions it calls
    (the two resampling helpers, watched by spies) and its progress display (silenced) are swapped
    in its namespace for the run, and put back afterwards.
    """
    import dataclasses

    import mitdeeplearning

    require(dataclasses.is_dataclass(settings) and not isinstance(settings, type),
            "pass the notebook's settings object (the TrainSettings built from the parameters cell): "
            "check_resampling_loop(train_dbvae, settings)")
    run_settings = dataclasses.replace(settings, steps=steps, warmup_steps=warmup, resample_every=every,
                                       batch_size=4, compile_steps=False)
    g = train_dbvae.__globals__
    loader = _SpyLoader()
    model = _spy_model(3)
    calls = {"proj": [], "probs": []}
    real_proj = g.get("principal_projection")
    real_probs = g.get("get_training_sample_probabilities")
    require(callable(real_probs), "define get_training_sample_probabilities (the histogram weights) before the training loop")

    def spy_proj(mu, *args, **kwargs):
        out = real_proj(mu, *args, **kwargs)
        calls["proj"].append((np.array(mu, dtype=np.float64), out))
        return out

    def spy_probs(mu, *args, **kwargs):
        out = real_probs(mu, *args, **kwargs)
        calls["probs"].append((mu, np.array(out, dtype=np.float64)))
        return out

    real_mdl = g.get("mdl", mitdeeplearning)
    overrides = {
        "principal_projection": spy_proj, "get_training_sample_probabilities": spy_probs,
        "tqdm": lambda iterable, *a, **k: iterable,
        "mdl": _Proxy(real_mdl, util=_Proxy(real_mdl.util, PeriodicPlotter=_QuietPlotter)),
    }
    missing = object()
    saved = {name: g.get(name, missing) for name in overrides}
    g.update(overrides)
    try:
        out = attempt(train_dbvae, model, loader, run_settings, debias=debias, fix="see the TODO's steps")
    finally:
        for name, value in saved.items():
            if value is missing:
                g.pop(name, None)
            else:
                g[name] = value
    return loader, model, calls, out


@check
def check_resampling_loop(train_dbvae, settings, warmup=3, every=4, steps=13):
    """Runs ``train_dbvae`` on a stand-in loader and model and watches what it does.

    ``settings`` is the notebook's (its density components, bins and smoothing are used as they
    are); for a short run the check sets ``steps``, ``warmup_steps`` and ``resample_every`` to
    small values, a batch of 4 and no compilation. It records each pass over the faces, what went
    into ``principal_projection`` and ``get_training_sample_probabilities``, and the ``p_pos`` of
    every batch: recomputation at step warmup_steps and every resample_every steps after it, over
    every face's μ, with the new probabilities used by the next batches; nothing of it with
    ``debias=False``.
    """
    loader, model, calls, out = _observe_loop(train_dbvae, settings, True, steps, warmup, every)
    events = loader.events
    recompute, step = [], 0
    for kind, _ in events:
        if kind == "batch":
            step += 1
        else:
            recompute.append(step)
    want = list(range(warmup, steps, every))
    if recompute != want:
        require(recompute, "the probabilities were never recomputed: when debias is on, at step settings.warmup_steps and every "
                "settings.resample_every steps after it, go over loader.iter_train_faces() (use settings.warmup_steps "
                "and settings.resample_every, not fixed numbers)")
        require(recompute[0] >= warmup, f"the probabilities were recomputed at step {recompute[0]}, during the warm-up: "
                f"start at step settings.warmup_steps (an untrained encoder's latent means nothing)")
        require(recompute[0] == warmup, f"the first recomputation came at step {recompute[0]}; it belongs at step settings.warmup_steps itself")
        require(len(recompute) < len(range(warmup, steps)), "the probabilities were recomputed at every step after the warm-up: "
                "only every settings.resample_every steps, (step - settings.warmup_steps) % settings.resample_every == 0")
        require(False, f"with warmup_steps={warmup} and resample_every={every} the probabilities should be recomputed at "
                f"steps {want}, they were at {recompute}: step >= settings.warmup_steps and "
                f"(step - settings.warmup_steps) % settings.resample_every == 0")
    mu_all = np.concatenate([np.asarray(model.encode(loader.faces[i:i + 4])[1]) for i in range(0, len(loader.faces), 4)])
    require(len(calls["probs"]) == len(want), f"get_training_sample_probabilities was called {len(calls['probs'])} times for "
            f"{len(want)} recomputations: call it once per recomputation")
    require(len(calls["proj"]) == len(want), "pass mu through principal_projection(mu, settings.density_components) before "
            "get_training_sample_probabilities")
    for (mu, _), (proj_in, proj_out) in zip(calls["probs"], calls["proj"]):
        require(proj_in.shape == mu_all.shape, f"mu should hold one row per training face, shape {mu_all.shape}, got "
                f"{proj_in.shape}: concatenate encode_mean(batch) over all batches of loader.iter_train_faces()")
        require(np.allclose(proj_in, mu_all, atol=1e-5), "mu should be the encoder's z_mean of every training face: "
                "np.concatenate([encode_mean(batch).numpy() for batch in loader.iter_train_faces()])")
        require(np.shape(mu) == np.shape(proj_out) and np.allclose(np.asarray(mu, dtype=np.float64), np.asarray(proj_out)),
                "give get_training_sample_probabilities the output of principal_projection(mu, settings.density_components)")
    batches = [p for kind, p in events if kind == "batch"]
    current, rec_i = None, 0
    for s, p in enumerate(batches):
        while rec_i < len(want) and want[rec_i] == s:
            current = calls["probs"][rec_i][1]
            rec_i += 1
        if current is None:
            require(p is None, f"batch {s} (before the warm-up ended) was drawn with probabilities; draw uniformly until settings.warmup_steps")
        else:
            require(p is not None, f"after recomputing at step {want[0]} the batches are still drawn uniformly: assign the new "
                    f"probabilities to p_faces (the name get_batch receives)")
            require(p.shape == current.shape and np.allclose(p, current),
                    f"batch {s} was drawn with other probabilities than the latest ones: set p_faces to what "
                    f"get_training_sample_probabilities returned")
    require(isinstance(out, tuple) and len(out) == 2, "train_dbvae should return (losses, resampling_history)")
    history = list(out[1])
    require([h[0] for h in history] == want if all(isinstance(h, (tuple, list)) and len(h) == 2 for h in history) else False,
            f"resampling_history should hold (step, p_faces) for each recomputation, at steps {want}; got "
            f"{[h[0] if isinstance(h, (tuple, list)) else type(h).__name__ for h in history]}: append (step, p_faces)")
    for (s, p), (_, q) in zip(history, calls["probs"]):
        require(np.allclose(np.asarray(p, dtype=np.float64), q), f"resampling_history at step {s} does not hold the "
                f"probabilities computed then: append (step, p_faces) after setting p_faces")
    loader2, _, _, out2 = _observe_loop(train_dbvae, settings, False, steps, warmup, every)
    require(not any(kind == "faces" for kind, _ in loader2.events) and all(p is None for kind, p in loader2.events if kind == "batch"),
            "with debias=False (the uniform VAE) nothing may be resampled: put the recomputation under `if debias and ...`")
    return (f"recomputed at steps {want} (warmup_steps={warmup}, resample_every={every} for this run) over every "
            f"face's μ, the new probabilities drew the next batches; nothing with debias=False")


@check
def check_dbvae_training(losses, resampling_history, n_faces):
    """The DB-VAE training run: the loss fell and the probabilities were recomputed."""
    losses = np.asarray(losses, dtype=np.float64)
    require(len(losses) > 0 and np.isfinite(losses).all(), "losses should be a non-empty list of finite numbers, one per step")
    k = max(1, len(losses) // 5)
    require(losses[-k:].mean() < losses[:k].mean(), f"the loss did not fall (first {k} steps {losses[:k].mean():.3f}, last {losses[-k:].mean():.3f})")
    require(len(resampling_history) >= 1, "the probabilities were never recomputed: after the warm-up, recompute them every "
            "resample_every steps (and make sure train_steps > warmup_steps)")
    for step, p in resampling_history:
        p = np.asarray(p)
        require(p.shape == (n_faces,) and np.isclose(p.sum(), 1.0, atol=1e-6), f"at step {step} the probabilities have shape {p.shape} / sum {p.sum():.4f}; expected ({n_faces},) summing to 1")
    return f"{len(losses)} steps, loss {losses[:k].mean():.3f} → {losses[-k:].mean():.3f}, probabilities recomputed {len(resampling_history)} times"
