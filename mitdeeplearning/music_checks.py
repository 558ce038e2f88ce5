"""The checks of lab 1, part 2 (music generation): vocabulary, vectorising, batches, the model, the
loss, the training step and sampling.

Each ``check_*`` prints one ✔ line or raises ``AssertionError`` with a hint (see
:mod:`mitdeeplearning.checks`). ``require_batch_types``, ``require_batch_shapes`` and
``require_next_step`` are the parts of :func:`check_batch` that the 2020/21 ``test_batch_func_*``
names (in :mod:`mitdeeplearning.compat2021.lab1`) run on their own. TensorFlow is imported by the
checks that need it.
"""

import math

import numpy as np

from .checks import activation_name, attempt, check, is_tensor, require, require_descent, run_train_steps, to_numpy

__all__ = ["check_vocabulary", "check_vectorize", "check_batch", "check_model", "check_loss", "check_train_step",
           "check_sampling", "lstm_param_count", "require_batch_types", "require_batch_shapes", "require_next_step"]


def _tf():
    import tensorflow as tf

    return tf


@check
def check_vocabulary(vocab, char2idx, idx2char, text=None):
    """Lookup tables between characters and indices are consistent inverses."""
    vocab = list(vocab)
    require(len(vocab) > 0, "the vocabulary is empty; build it from the training text: sorted(set(text))")
    require(len(vocab) == len(set(vocab)), "the vocabulary has repeated characters; use sorted(set(text))")
    if text is not None:
        require(set(vocab) == set(text), "the vocabulary must hold exactly the characters of the text")
    require(len(char2idx) == len(vocab), f"char2idx has {len(char2idx)} entries for {len(vocab)} characters")
    require(len(idx2char) == len(vocab), f"idx2char has {len(idx2char)} entries for {len(vocab)} characters")
    for i, ch in enumerate(idx2char):
        require(char2idx[ch] == i, f"char2idx[{ch!r}] is {char2idx[ch]} but idx2char[{char2idx[ch]}] is not {ch!r}")
    return f"vocabulary of {len(vocab)} characters, char2idx and idx2char are inverses"


@check
def check_vectorize(vectorize_string, char2idx, idx2char, text):
    """``vectorize_string(string, char2idx)`` returns a 1-d integer NumPy array that decodes back to the text.

    The check also hands it a reordered ``char2idx``, so a function that reads another table than
    its argument is caught.
    """
    sample = text[:500]
    fix = "map each character c of `string` to char2idx[c] and return np.array([...], dtype=np.int64)"
    v = attempt(vectorize_string, sample, char2idx, fix=fix)
    require(v is not None, "vectorize_string returned None: return the array of indices")
    require(not is_tensor(v), "return a NumPy array (np.array([...])), not a tf.Tensor")
    require(isinstance(v, np.ndarray), f"return a NumPy array (np.array([...])), got {type(v).__name__}")
    if v.dtype.kind in "US":
        require(False, f"got characters (dtype {v.dtype}), not indices: look each character up in char2idx")
    require(np.issubdtype(v.dtype, np.integer), f"expected integer indices, got dtype {v.dtype}: "
            f"np.array([char2idx[c] for c in string], dtype=np.int64)")
    require(v.ndim == 1, f"expected a 1-d array, one index per character, got shape {v.shape}")
    require(v.shape == (len(sample),), f"expected {len(sample)} indices for the {len(sample)} characters passed in, got "
            f"{v.shape[0]}: vectorize the argument `string` itself, one index per character")
    table = np.asarray(idx2char)
    if v.min() >= 1 and v.max() <= len(table) and "".join(table[v - 1]) == sample:
        require(False, "every index is one too large: use char2idx[c] itself")
    require(v.min() >= 0 and v.max() < len(table), f"indices must lie in [0, {len(table)}): take them from char2idx")
    if "".join(table[v]) != sample:
        if v.min() >= 1 and "".join(table[v - 1]) == sample:
            require(False, "every index is one too large: use char2idx[c] itself")
        require(False, "decoding the indices with idx2char does not give back the text: use char2idx[c] for each character c, in order")
    reordered = {c: (i + 1) % len(char2idx) for c, i in char2idx.items()}
    again = np.asarray(attempt(vectorize_string, sample, reordered, fix=fix))
    require(again.shape == v.shape and np.array_equal(again, [reordered[c] for c in sample]),
            "given another char2idx, vectorize_string returned the same indices: look characters up in its "
            "argument char2idx, not in a table of the notebook")
    return f"vectorize_string round-trips, dtype {v.dtype}"


def _batch(func, args):
    ret = attempt(func, *args, fix=_BATCH_FIX)
    require(isinstance(ret, tuple) and len(ret) == 2, "get_batch must return two arrays: (input_batch, target_batch)")
    return ret


def _batch_arrays(func, args):
    """The two batches as NumPy arrays (a tf.Tensor batch is as good as a NumPy one)."""
    return tuple(to_numpy(a) if is_tensor(a) else a for a in _batch(func, args))


_BATCH_FIX = ("pick batch_size random starts in [0, n - seq_length) (n = len(vectorized_songs) - 1) so that every "
              "window fits; input_batch rows are vectorized_songs[i : i + seq_length], target rows "
              "vectorized_songs[i + 1 : i + seq_length + 1]")


def require_batch_types(func, args):
    """``func(*args)`` returns two arrays of integer indices (NumPy arrays or tf tensors: the
    training step takes either)."""
    x, y = _batch(func, args)
    for name, arr in (("input", x), ("target", y)):
        require(isinstance(arr, np.ndarray) or is_tensor(arr), f"the {name} batch is a {type(arr).__name__}, expected a "
                f"NumPy array (np.stack or np.array of the windows; a tf.Tensor works too)")
        dtype = to_numpy(arr).dtype
        require(np.issubdtype(dtype, np.integer),
                f"expected integer indices in the {name} batch, got {dtype} — did np.append (or the "
                f"vectorised songs) turn them into floats? Embedding layers need integer indices.")


def require_batch_shapes(func, args):
    """Both batches of ``func(vectorized, seq_length, batch_size)`` have shape (batch_size, seq_length)."""
    _, seq_length, batch_size = args
    x, y = _batch_arrays(func, args)
    expected = (batch_size, seq_length)
    require(np.shape(x) == expected, f"input batch has shape {np.shape(x)}, expected (batch_size, seq_length) = {expected}")
    require(np.shape(y) == expected, f"target batch has shape {np.shape(y)}, expected {expected}")


def require_next_step(func, args):
    """The targets of ``func(*args)`` are its inputs shifted one step ahead."""
    x, y = (np.asarray(a) for a in _batch_arrays(func, args))
    if not np.array_equal(x[:, 1:], y[:, :-1]):
        if np.array_equal(x, y):
            require(False, "the target equals the input: take it one character later, vectorized_songs[i + 1 : i + seq_length + 1]")
        if np.array_equal(y[:, 1:], x[:, :-1]):
            require(False, "input and target are swapped (the target comes before the input): inputs start at i, targets at i + 1")
        if np.array_equal(x[:, 2:], y[:, :-2]):
            require(False, "the target is shifted two characters ahead: it starts at i + 1, vectorized_songs[i + 1 : i + seq_length + 1]")
        require(False, "the target must be the input shifted one character ahead: y[i] = vectorized[start+1 : start+1+seq_length]")


def _window_found(vectorized, row):
    n = len(row)
    candidates = np.flatnonzero(vectorized[: len(vectorized) - n + 1] == row[0])
    if candidates.size == 0:
        return False
    windows = vectorized[candidates[:, None] + np.arange(n)]
    return bool(np.any(np.all(windows == row, axis=1)))


@check
def check_batch(get_batch, vectorized, seq_length, batch_size):
    """Types, shapes, shift by one, windows of the data at random starts that differ within a batch.

    Besides the student's data, the check feeds ``get_batch`` a short sequence 0, 1, 2, ... in
    which every window names its own start, so it sees exactly which starts were drawn.
    """
    args = (vectorized, seq_length, batch_size)
    for requirement in (require_batch_types, require_batch_shapes, require_next_step):
        requirement(get_batch, args)
    vectorized = np.asarray(vectorized)
    x, y = _batch_arrays(get_batch, args)
    for i in range(min(4, batch_size)):
        row = np.concatenate([x[i], y[i, -1:]])
        require(_window_found(vectorized, row),
                f"row {i} of the batch is not a window vectorized[s : s+seq_length+1] of the data; "
                f"take x = vectorized[s : s+seq_length] and y = vectorized[s+1 : s+seq_length+1]")
    if batch_size > 1 and len(vectorized) > seq_length + 40:
        require(len({tuple(r) for r in np.asarray(x)}) > 1,
                "every row of the batch is the same window: draw batch_size starts, one per row "
                "(np.random.choice(n - seq_length, batch_size)), not one start copied across the batch")
    # a sequence 0, 1, 2, ...: a window's first value is its start
    room = 40
    counting = np.arange(seq_length + room + 1, dtype=np.int64)
    starts = []
    for _ in range(25):
        cx, cy = _batch_arrays(get_batch, (counting, seq_length, batch_size))
        cx, cy = np.asarray(cx), np.asarray(cy)
        require(cx.shape == (batch_size, seq_length) and cy.shape == (batch_size, seq_length),
                f"on a sequence of {len(counting)} values get_batch returned shapes {cx.shape} and {cy.shape}: {_BATCH_FIX}")
        s = cx[:, 0]
        require(np.array_equal(cx, s[:, None] + np.arange(seq_length)) and np.array_equal(cy, cx + 1),
                f"on the sequence 0, 1, 2, ... the rows are not consecutive windows: {_BATCH_FIX}")
        require(s.min() >= 0 and s.max() <= len(counting) - 1 - seq_length,
                f"a start {s.max()} leaves no room for the target's last character: {_BATCH_FIX}")
        starts.append(s)
    starts = np.stack(starts)
    require(len({tuple(r) for r in starts}) > 1,
            "every call returned the same windows: draw new random starts on each call (np.random.choice), and do "
            "not reseed inside get_batch")
    require(len(np.unique(starts)) >= min(10, room),
            f"over 25 calls only {len(np.unique(starts))} different starts were drawn out of {room}: draw the starts "
            f"at random over the whole range [0, n - seq_length)")
    return f"get_batch returns int batches of shape {x.shape}, targets shifted by one, random starts"


def lstm_param_count(vocab_size, embedding_dim, rnn_units):
    """Parameters of Embedding -> LSTM -> Dense(vocab_size)."""
    return (vocab_size * embedding_dim
            + 4 * (embedding_dim * rnn_units + rnn_units * rnn_units + rnn_units)
            + rnn_units * vocab_size + vocab_size)


_SOFTMAX_LAST = ("remove the softmax from the last layer: Dense(vocab_size) must output logits (the loss uses "
                 "from_logits=True and tf.random.categorical samples from logits; with probabilities in their place "
                 "generation samples almost uniformly)")


@check
def check_model(model, vocab_size, embedding_dim, rnn_units, x):
    """Embedding(vocab_size, embedding_dim) → LSTM(rnn_units, return_sequences=True) → Dense(vocab_size) logits."""
    tf = _tf()
    layers = [la for la in getattr(model, "layers", []) if type(la).__name__ != "InputLayer"]
    kinds = [type(la).__name__ for la in layers]
    fix = ("keras.Sequential([keras.layers.Embedding(vocab_size, embedding_dim), "
           "keras.layers.LSTM(rnn_units, return_sequences=True), keras.layers.Dense(vocab_size)])")
    for other in ("GRU", "SimpleRNN"):
        require(other not in kinds, f"the model uses {other}; this lab's recurrent layer is keras.layers.LSTM(rnn_units, return_sequences=True)")
    require("Embedding" in kinds, f"the first layer is Embedding(vocab_size, embedding_dim), which turns indices into vectors; got layers {kinds}")
    emb = layers[kinds.index("Embedding")]
    if (emb.input_dim, emb.output_dim) == (embedding_dim, vocab_size) and embedding_dim != vocab_size:
        require(False, f"Embedding's arguments are swapped: Embedding(vocab_size, embedding_dim) = Embedding({vocab_size}, {embedding_dim}), got Embedding({emb.input_dim}, {emb.output_dim})")
    require(emb.input_dim == vocab_size and emb.output_dim == embedding_dim,
            f"expected Embedding(vocab_size, embedding_dim) = Embedding({vocab_size}, {embedding_dim}), got Embedding({emb.input_dim}, {emb.output_dim})")
    require("LSTM" in kinds, f"the middle layer is LSTM(rnn_units, return_sequences=True); got layers {kinds}")
    lstm = layers[kinds.index("LSTM")]
    require(lstm.units == rnn_units, f"the LSTM has {lstm.units} units, expected rnn_units = {rnn_units}")
    require(lstm.return_sequences, "the LSTM must output every time step: LSTM(rnn_units, return_sequences=True)")
    require(kinds[-1:] != ["Softmax"] and activation_name(getattr(layers[-1], "activation", None)) != "softmax", _SOFTMAX_LAST)
    require(kinds[-1] == "Dense", f"the last layer is Dense(vocab_size), one logit per character; got layers {kinds}")
    dense = layers[-1]
    require(dense.units == vocab_size, f"the last layer is Dense(vocab_size) = Dense({vocab_size}), got Dense({dense.units})")
    act = activation_name(dense.activation)
    require(act is None, f"the last Dense layer outputs logits, so no activation (got {act!r}): Dense(vocab_size)")
    require(kinds == ["Embedding", "LSTM", "Dense"], f"expected exactly Embedding → LSTM → Dense, got {kinds}: {fix}")
    logits = to_numpy(attempt(model, x, fix=fix))
    expected = tuple(x.shape) + (vocab_size,)
    require(logits.shape == expected, f"expected output shape (batch, seq_length, vocab_size) = {expected}, got {logits.shape}; {fix}")
    require(not (np.all(logits >= 0) and np.allclose(logits.sum(-1), 1, atol=1e-4)), _SOFTMAX_LAST)
    want = lstm_param_count(vocab_size, embedding_dim, rnn_units)
    got = int(model.count_params())
    require(got == want, f"the model has {got:,} parameters, an Embedding({vocab_size}, {embedding_dim}) → "
            f"LSTM({rnn_units}) → Dense({vocab_size}) has {want:,}; check the layer sizes")
    return f"model output {logits.shape}, {got:,} parameters"


_LOSS_FIX = ("compute_loss(labels, logits): keras.losses.sparse_categorical_crossentropy(labels, logits, "
             "from_logits=True) — labels first (integer indices, shape (batch, time)), then the logits "
             "(batch, time, vocab_size); 'sparse' because the labels are indices, not one-hot vectors")


@check
def check_loss(compute_loss, model, x, y, vocab_size):
    """Sparse categorical cross-entropy from logits; the untrained loss is within 0.1 of ln(vocab)."""
    tf = _tf()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 7, vocab_size)).astype(np.float32) * 3
    labels = rng.integers(0, vocab_size, size=(2, 7))

    def xent(z):
        z = z - z.max(-1, keepdims=True)
        log_softmax = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return -np.take_along_axis(log_softmax, labels[..., None], -1).mean()

    reference = xent(logits.astype(np.float64))
    out = attempt(compute_loss, tf.constant(labels), tf.constant(logits), fix=_LOSS_FIX)
    require(out is not None, "compute_loss returned None: return the loss")
    got = float(np.asarray(tf.reduce_mean(out)))
    if not math.isclose(got, reference, rel_tol=1e-3):
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        no_logits = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits)))
        variants = [
            (no_logits, "these are logits, not probabilities: pass from_logits=True"),
            (xent(probs), "pass the logits themselves, without tf.nn.softmax, and keep from_logits=True"),
            (-reference, "the loss has the wrong sign: cross-entropy is positive, drop the minus"),
            (reference * labels.size, "take the mean over the batch and time steps, not the sum"),
        ]
        hint = next((h for v, h in variants if math.isclose(got, v, rel_tol=1e-3)), _LOSS_FIX)
        require(False, f"on test logits the mean loss should be {reference:.4f}, got {got:.4f}: {hint}")
    untrained = float(tf.reduce_mean(compute_loss(y, model(x))))
    require(abs(untrained - math.log(vocab_size)) < 0.1,
            f"an untrained model should score about ln({vocab_size}) = {math.log(vocab_size):.3f}, got {untrained:.3f}; "
            f"is the model freshly built (not trained)?")
    return f"loss is cross-entropy from logits; untrained loss {untrained:.3f} ≈ ln({vocab_size}) = {math.log(vocab_size):.3f}"


@check
def check_train_step(train_step, model, optimizer, x, y, steps=3):
    """The check recomputes the loss from the model's outputs: it falls, every variable moves; weights are restored."""
    fix = ("under a GradientTape run y_hat = model(x) and loss = compute_loss(y, y_hat) (labels first), then "
           "grads = tape.gradient(loss, model.trainable_variables) and "
           "optimizer.apply_gradients(zip(grads, model.trainable_variables)) (gradients first in each pair)")
    before, after, values, still, n, slope = run_train_steps(train_step, model, optimizer, x, y, steps, fix, from_logits=True)
    if math.isclose(values[0], -before, rel_tol=2e-3):
        require(False, f"train_step returned {values[0]:.4f}, the negated cross-entropy: the loss to descend is "
                f"compute_loss(y, y_hat) itself, no minus sign (the loss did not fall: {before:.3f} → {after:.3f})")
    require(math.isclose(values[0], before, rel_tol=2e-3, abs_tol=1e-4),
            f"train_step returned {values[0]:.4f} but the cross-entropy of the model's outputs was {before:.4f}: "
            f"return loss = compute_loss(y, y_hat)")
    require_descent(before, after, still, n, steps, slope)
    trend = (f"lowers the loss on a batch: {before:.3f} → {after:.3f}" if after < before else
             f"steps against the gradient (the loss rose, {before:.3f} → {after:.3f}: the learning rate overshoots)")
    return f"train_step {trend}; every trainable variable moved"


@check
def check_sampling(sample_next, vocab_size, batch_size=8):
    """``sample_next(logits, temperature)`` draws one index per row from softmax(logits / temperature)."""
    tf = _tf()
    fix = ("samples = tf.random.categorical(logits / temperature, num_samples=1) (it takes logits), then "
           "tf.squeeze(samples, axis=-1) for shape (batch,)")
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(batch_size, vocab_size)).astype(np.float32))
    ids = attempt(sample_next, logits, 1.0, fix=fix)
    require(ids is not None, "sample_next returned None: return next_ids")
    ids = to_numpy(ids)
    require(ids.shape == (batch_size,), f"expected one index per row, shape ({batch_size},), got {ids.shape}: "
            f"take one sample per row (num_samples=1) and squeeze the sample axis, tf.squeeze(samples, axis=-1)")
    require(np.issubdtype(ids.dtype, np.integer), f"expected integer indices, got {ids.dtype}: do not cast the samples to float")
    require(np.all((ids >= 0) & (ids < vocab_size)), f"indices must lie in [0, {vocab_size})")
    # the distribution: rows [3, 0, 0, ...] give index 0 with probability e^(3/T) / (e^(3/T) + V - 1)
    n = 4096
    row = np.zeros(vocab_size, np.float32)
    row[0] = 3.0
    peaked = tf.constant(np.tile(row, (n, 1)))

    def p0(t):
        return math.exp(3 / t) / (math.exp(3 / t) + vocab_size - 1)

    def freq(t):
        return float(np.mean(to_numpy(attempt(sample_next, peaked, t, fix=fix)) == 0))

    def near(f, p):
        return abs(f - p) <= 5 * math.sqrt(p * (1 - p) / n) + 0.01

    f1 = freq(1.0)
    if not near(f1, p0(1.0)):
        q = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        p_soft = math.exp(q[0]) / (math.exp(q[0]) + (vocab_size - 1) * math.exp(q[1]))
        if near(f1, p_soft):
            require(False, "tf.random.categorical takes logits (unnormalised log-probabilities), not probabilities: pass "
                    "logits / temperature directly, without tf.nn.softmax")
        if f1 > 0.999:
            require(False, "the samples never vary: draw with tf.random.categorical, not argmax")
        require(False, f"index 0 should come up {100 * p0(1):.0f} % of the time at temperature 1, got {100 * f1:.0f} %: {fix}")
    f_half = freq(0.5)
    if not near(f_half, p0(0.5)):
        if near(f_half, p0(1.0)):
            require(False, "the temperature has no effect: divide the logits by the temperature, logits / temperature")
        if near(f_half, p0(2.0)):
            require(False, "you multiplied the logits by the temperature: divide them by it, logits / temperature")
        require(False, f"at temperature 0.5 index 0 should come up {100 * p0(0.5):.0f} % of the time, got {100 * f_half:.0f} %: "
                f"divide the logits by the temperature")
    cold = to_numpy(sample_next(logits, 1e-3))
    require(np.array_equal(cold, np.argmax(to_numpy(logits), -1)),
            "at a tiny temperature sampling must pick the most likely character: divide the logits by the temperature")
    return "sample_next draws one index per row from softmax(logits / temperature), greedy as temperature → 0"
