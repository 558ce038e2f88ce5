"""Lab 1: TensorFlow basics (Part 1) and music generation with an LSTM (Part 2).

Music helpers (loading, splitting, validating, playing and drawing ABC tunes) live in
:mod:`mitdeeplearning.music` and are re-exported here under the names the 2020/21 notebooks use.
Every ``check_*`` function prints one ✔ line or raises ``AssertionError`` with a hint; the
2020/21 ``test_*`` names are kept and behave the same way.
"""

import math

import numpy as np

from .checks import check, require
from .music import (  # noqa: F401  (re-exported: the public lab 1 API)
    SAMPLE_RATE,
    InvalidSongError,
    SongReport,
    abc2wav,
    abc_file_to_wav,
    clean_tune,
    extract_song_snippet,
    is_valid_song,
    load_training_data,
    parse_song,
    play_generated_song,
    play_song,
    play_wav,
    plot_song,
    save_song_to_abc,
    song_notes,
    summarize_songs,
    synthesize_song,
    validate_song,
)

__all__ = [
    # music (re-exported)
    "SAMPLE_RATE", "InvalidSongError", "SongReport", "abc2wav", "abc_file_to_wav", "clean_tune", "extract_song_snippet",
    "is_valid_song", "load_training_data", "parse_song", "play_generated_song", "play_song",
    "play_wav", "plot_song", "save_song_to_abc", "song_notes", "summarize_songs", "synthesize_song",
    "validate_song",
    # Part 1 checks
    "check_matrix", "check_images", "check_func", "check_custom_dense_layer",
    "check_sequential_model", "check_subclass_model", "check_identity_model", "check_gradient",
    "check_sgd",
    # Part 2 checks
    "check_vocabulary", "check_vectorize", "check_batch", "check_model", "check_loss",
    "check_train_step", "check_sampling",
    # 2020/21 names
    "test_custom_dense_layer_output", "test_batch_func_types", "test_batch_func_shapes",
    "test_batch_func_next_step",
]


def _tf():
    import tensorflow as tf

    return tf


def _numpy(value):
    """A NumPy array from a tensor, variable, array or number."""
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def _scalar(value, what):
    arr = _numpy(value)
    require(arr.size == 1, f"{what} should be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def _is_tensor(value):
    tf = _tf()
    return isinstance(value, (tf.Tensor, tf.Variable))


# ---------------------------------------------------------------------------------------------
# Part 1: TensorFlow basics
# ---------------------------------------------------------------------------------------------


@check
def check_matrix(matrix):
    """A 2-d tensor (rank 2) with at least one element."""
    tf = _tf()
    require(_is_tensor(matrix), f"expected a tf.Tensor (use tf.constant), got {type(matrix).__name__}")
    rank = int(tf.rank(matrix).numpy())
    require(rank == 2, f"expected a 2-d tensor (rank 2, like [[1, 2], [3, 4]]), got rank {rank}")
    require(int(tf.size(matrix)) > 0, "the matrix is empty; give it at least one row and column")
    return f"matrix is a 2-d tensor of shape {tuple(matrix.shape)}"


@check
def check_images(images):
    """A 4-d tensor of zeros, shape 10 x 256 x 256 x 3 (batch, height, width, colour)."""
    require(_is_tensor(images), f"expected a tf.Tensor (use tf.zeros), got {type(images).__name__}")
    shape = tuple(images.shape)
    require(len(shape) == 4, f"expected a 4-d tensor (batch, height, width, channels), got rank {len(shape)}")
    require(shape == (10, 256, 256, 3), f"expected shape (10, 256, 256, 3), got {shape}")
    require(not np.any(_numpy(images)), "expected all zeros; tf.zeros([...]) makes them")
    return "images is a 10 x 256 x 256 x 3 tensor of zeros"


@check
def check_func(func, trials=5, seed=0):
    """``func(a, b)`` returns e = (a + b) * (b - 1), for several random inputs."""
    tf = _tf()
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        a, b = (float(v) for v in rng.uniform(-10, 10, size=2))
        expected = (a + b) * (b - 1)
        got = func(tf.constant(a), tf.constant(b))
        value = _scalar(got, "e")
        if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-4):
            hints = {
                (a + b) * b: "did you compute d = b - 1?",
                (a + b) + (b - 1): "e should multiply c and d (tf.multiply), not add them",
                (a - b) * (b - 1): "c is the sum a + b (tf.add)",
            }
            hint = next((h for v, h in hints.items() if math.isclose(value, v, rel_tol=1e-4)), "")
            require(False, f"for a={a:.3f}, b={b:.3f} expected e=(a+b)*(b-1)={expected:.4f}, got {value:.4f}. {hint}")
    return f"func computes e = (a + b)(b - 1) correctly on {trials} random inputs"


def _dense_weights(layer, in_dim):
    weights = [_numpy(w) for w in layer.weights]
    kernels = [w for w in weights if w.ndim == 2 and w.shape[0] == in_dim]
    require(kernels, f"the layer has no weight matrix of shape ({in_dim}, n_output_nodes); create W in build()")
    kernel = kernels[0]
    biases = [w for w in weights if w is not kernel and w.size == kernel.shape[1]]
    require(biases, f"the layer has no bias with {kernel.shape[1]} entries; create b in build()")
    return kernel, biases[0].reshape(-1)


@check
def check_custom_dense_layer(layer, x, y):
    """``y`` is sigmoid(x W + b) recomputed from the layer's own weights (no hard-coded floats)."""
    x_np, y_np = _numpy(x).astype(np.float64), _numpy(y)
    require(y is not None, "the layer returned None; did call() forget to return its output?")
    W, b = _dense_weights(layer, x_np.shape[-1])
    require(y_np.shape == x_np.shape[:-1] + (W.shape[1],),
            f"expected output shape {x_np.shape[:-1] + (W.shape[1],)}, got {y_np.shape}")
    z = x_np @ W + b
    expected = 1 / (1 + np.exp(-z))
    if not np.allclose(y_np, expected, atol=1e-5):
        if np.allclose(y_np, z, atol=1e-5):
            require(False, "the output is x W + b without the sigmoid; apply tf.math.sigmoid")
        if np.allclose(y_np, 1 / (1 + np.exp(-(x_np @ W))), atol=1e-5):
            require(False, "the output ignores the bias b; compute tf.matmul(x, W) + b")
        require(False, "the output differs from sigmoid(x W + b) computed from the layer's weights")
    return f"custom dense layer computes sigmoid(xW + b), output shape {y_np.shape}"


@check
def test_custom_dense_layer_output(y, layer=None, x=None):
    """2020/21 name. With ``layer`` and ``x``, the full check; otherwise a range/shape check."""
    y_np = _numpy(y)
    require(y_np.ndim == 2, f"expected a 2-d output (batch, n_output_nodes), got shape {y_np.shape}")
    require(np.all((y_np > 0) & (y_np < 1)), "a sigmoid output lies strictly between 0 and 1; did you apply tf.math.sigmoid?")
    if layer is not None and x is not None:
        check_custom_dense_layer.__wrapped__(layer, x, y)
    return "test_custom_dense_layer_output"


@check
def check_sequential_model(model, n_output_nodes, x):
    """A Sequential model whose output has ``n_output_nodes`` columns."""
    tf = _tf()
    require(isinstance(model, tf.keras.Sequential), f"expected a tf.keras.Sequential, got {type(model).__name__}")
    y = _numpy(model(x))
    require(y.shape == (x.shape[0], n_output_nodes), f"expected output shape {(x.shape[0], n_output_nodes)}, got {y.shape}; did you add Dense({n_output_nodes})?")
    return f"Sequential model maps {tuple(x.shape)} to {y.shape}"


@check
def check_subclass_model(model, n_output_nodes, x):
    """A subclassed ``tf.keras.Model`` with a dense layer of ``n_output_nodes``."""
    tf = _tf()
    require(isinstance(model, tf.keras.Model), f"expected a tf.keras.Model subclass, got {type(model).__name__}")
    require(type(model) not in (tf.keras.Model, tf.keras.Sequential), "subclass tf.keras.Model (class MyModel(tf.keras.Model): ...)")
    y = _numpy(model(x))
    require(y.shape == (x.shape[0], n_output_nodes), f"expected output shape {(x.shape[0], n_output_nodes)}, got {y.shape}; create the Dense layer in __init__ and use it in call()")
    return f"subclassed model maps {tuple(x.shape)} to {y.shape}"


@check
def check_identity_model(model, x):
    """``model.call(x, isidentity=True)`` returns ``x``; with False, the dense output."""
    x_np = _numpy(x)
    same = _numpy(model.call(x, isidentity=True))
    require(same.shape == x_np.shape and np.allclose(same, x_np), "with isidentity=True, call() must return its input unchanged")
    out = _numpy(model.call(x, isidentity=False))
    require(not (out.shape == x_np.shape and np.allclose(out, x_np)), "with isidentity=False, call() must apply the dense layer")
    return "identity switch returns the input, and the dense output otherwise"


@check
def check_gradient(x, dy_dx):
    """``dy_dx`` is the derivative of y = x² at ``x`` (that is 2x)."""
    require(dy_dx is not None, "the gradient is None: compute y inside `with tf.GradientTape() as tape:` and watch x (or make it a tf.Variable)")
    x_v, g = _scalar(x, "x"), _scalar(dy_dx, "dy_dx")
    require(math.isclose(g, 2 * x_v, rel_tol=1e-5), f"dy/dx of x² at x={x_v} is {2 * x_v}, got {g}")
    return f"dy/dx = {g:g} at x = {x_v:g}"


@check
def check_sgd(history, x_f, tol=0.05):
    """Gradient descent on (x − x_f)² ends within ``tol`` of ``x_f``."""
    values = [_scalar(v, "each entry of the history") for v in history]
    require(len(values) >= 2, "record x after every iteration in the history list")
    start, end = abs(values[0] - x_f), abs(values[-1] - x_f)
    require(end <= tol, f"x ended at {values[-1]:.4f}, {end:.4f} from x_f={x_f}; check the loss is (x - x_f)**2 and apply the gradient (optimizer.apply_gradients)")
    require(end < start or start <= tol, "x did not move towards x_f")
    return f"SGD converged to x = {values[-1]:.4f} (target {x_f})"


# ---------------------------------------------------------------------------------------------
# Part 2: music generation
# ---------------------------------------------------------------------------------------------


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
    """``vectorize_string`` returns an integer NumPy array that decodes back to the text."""
    sample = text[:500]
    v = vectorize_string(sample)
    require(isinstance(v, np.ndarray), f"return a NumPy array (np.array([...])), got {type(v).__name__}")
    require(np.issubdtype(v.dtype, np.integer), f"expected integer indices, got dtype {v.dtype}; build the array from char2idx values")
    require(v.shape == (len(sample),), f"expected shape ({len(sample)},) for {len(sample)} characters, got {v.shape}")
    decoded = "".join(np.asarray(idx2char)[v])
    require(decoded == sample, "decoding the indices with idx2char does not give back the text")
    return f"vectorize_string round-trips, dtype {v.dtype}"


def _batch(func, args):
    ret = func(*args)
    require(isinstance(ret, tuple) and len(ret) == 2, "get_batch must return two arrays: (input_batch, target_batch)")
    return ret


@check
def test_batch_func_types(func, args):
    """2020/21 name: get_batch returns two NumPy arrays of integer indices."""
    x, y = _batch(func, args)
    require(isinstance(x, np.ndarray), f"the input batch is a {type(x).__name__}, expected np.ndarray")
    require(isinstance(y, np.ndarray), f"the target batch is a {type(y).__name__}, expected np.ndarray")
    for name, arr in (("input", x), ("target", y)):
        require(np.issubdtype(arr.dtype, np.integer),
                f"expected int64 indices in the {name} batch, got {arr.dtype} — did np.append (or the "
                f"vectorised songs) turn them into floats? Embedding layers need integer indices.")
    return "test_batch_func_types"


@check
def test_batch_func_shapes(func, args):
    """2020/21 name: both batches have shape (batch_size, seq_length)."""
    _, seq_length, batch_size = args
    x, y = _batch(func, args)
    expected = (batch_size, seq_length)
    require(np.shape(x) == expected, f"input batch has shape {np.shape(x)}, expected (batch_size, seq_length) = {expected}")
    require(np.shape(y) == expected, f"target batch has shape {np.shape(y)}, expected {expected}")
    return "test_batch_func_shapes"


@check
def test_batch_func_next_step(func, args):
    """2020/21 name: targets are the inputs shifted by one step."""
    x, y = _batch(func, args)
    require(np.array_equal(np.asarray(x)[:, 1:], np.asarray(y)[:, :-1]),
            "the target must be the input shifted one character ahead: y[i] = vectorized[start+1 : start+1+seq_length]")
    return "test_batch_func_next_step"


def _window_found(vectorized, row):
    n = len(row)
    candidates = np.flatnonzero(vectorized[: len(vectorized) - n + 1] == row[0])
    if candidates.size == 0:
        return False
    windows = vectorized[candidates[:, None] + np.arange(n)]
    return bool(np.any(np.all(windows == row, axis=1)))


@check
def check_batch(get_batch, vectorized, seq_length, batch_size):
    """Types, shapes, shift by one, windows taken from the data at random starts."""
    args = (vectorized, seq_length, batch_size)
    for sub in (test_batch_func_types, test_batch_func_shapes, test_batch_func_next_step):
        sub.__wrapped__(get_batch, args)
    vectorized = np.asarray(vectorized)
    x, y = get_batch(*args)
    for i in range(min(4, batch_size)):
        row = np.concatenate([x[i], y[i, -1:]])
        require(_window_found(vectorized, row),
                f"row {i} of the batch is not a window vectorized[s : s+seq_length+1] of the data; "
                f"take x = vectorized[s : s+seq_length] and y = vectorized[s+1 : s+seq_length+1]")
    firsts = {tuple(get_batch(*args)[0][0, :5]) for _ in range(5)}
    require(len(firsts) > 1 or len(vectorized) <= seq_length + 2,
            "five calls returned the same first window: choose random starts (np.random.choice)")
    return f"get_batch returns int batches of shape {x.shape}, targets shifted by one, random starts"


def lstm_param_count(vocab_size, embedding_dim, rnn_units):
    """Parameters of Embedding -> LSTM -> Dense(vocab_size)."""
    return (vocab_size * embedding_dim
            + 4 * (embedding_dim * rnn_units + rnn_units * rnn_units + rnn_units)
            + rnn_units * vocab_size + vocab_size)


@check
def check_model(model, vocab_size, embedding_dim, rnn_units, x):
    """Output shape (batch, time, vocab_size) and the parameter count of Embedding → LSTM → Dense."""
    logits = model(x)
    shape = tuple(logits.shape)
    expected = tuple(x.shape) + (vocab_size,)
    require(shape == expected, f"expected output shape (batch, seq_length, vocab_size) = {expected}, got {shape}; "
            f"LSTM needs return_sequences=True and the last layer Dense(vocab_size)")
    want = lstm_param_count(vocab_size, embedding_dim, rnn_units)
    got = int(model.count_params())
    require(got == want, f"the model has {got:,} parameters, an Embedding({vocab_size}, {embedding_dim}) → "
            f"LSTM({rnn_units}) → Dense({vocab_size}) has {want:,}; check the layer sizes")
    return f"model output {shape}, {got:,} parameters"


@check
def check_loss(compute_loss, model, x, y, vocab_size):
    """Sparse categorical cross-entropy from logits; the untrained loss is within 0.1 of ln(vocab)."""
    tf = _tf()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 7, vocab_size)).astype(np.float32) * 3
    labels = rng.integers(0, vocab_size, size=(2, 7))
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    reference = -np.take_along_axis(log_softmax, labels[..., None], -1).mean()
    got = float(tf.reduce_mean(compute_loss(tf.constant(labels), tf.constant(logits))))
    require(math.isclose(got, reference, rel_tol=1e-3),
            f"on test logits the mean loss should be {reference:.4f}, got {got:.4f}; use "
            f"sparse_categorical_crossentropy(labels, logits, from_logits=True)")
    untrained = float(tf.reduce_mean(compute_loss(y, model(x))))
    require(abs(untrained - math.log(vocab_size)) < 0.1,
            f"an untrained model should score about ln({vocab_size}) = {math.log(vocab_size):.3f}, got {untrained:.3f}; "
            f"is the model freshly built (not trained)?")
    return f"loss is cross-entropy from logits; untrained loss {untrained:.3f} ≈ ln({vocab_size}) = {math.log(vocab_size):.3f}"


@check
def check_train_step(train_step, model, optimizer, x, y, steps=3):
    """Steps on one batch return a finite scalar loss that goes down; weights are restored after."""
    saved = [w.numpy() for w in model.weights]
    saved_opt = [v.numpy() for v in optimizer.variables]
    try:
        losses = [float(train_step(x, y)) for _ in range(steps)]
        moved = any(not np.array_equal(a, w.numpy()) for a, w in zip(saved, model.weights))
    finally:
        for w, a in zip(model.weights, saved):
            w.assign(a)
        for v, a in zip(optimizer.variables, saved_opt):
            v.assign(a)
    require(all(math.isfinite(v) for v in losses), f"the loss is not finite: {losses}")
    require(moved, "the weights did not change: apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables))")
    require(losses[-1] < losses[0], f"the loss did not go down over {steps} steps on the same batch ({losses}); "
            f"are the gradients taken of the loss inside the GradientTape?")
    return f"train_step lowers the loss on a batch: {losses[0]:.3f} → {losses[-1]:.3f}"


@check
def check_sampling(sample_next, vocab_size, batch_size=8):
    """``sample_next(logits, temperature)`` returns one valid integer index per row."""
    tf = _tf()
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(batch_size, vocab_size)).astype(np.float32))
    ids = _numpy(sample_next(logits, 1.0))
    require(ids.shape == (batch_size,), f"expected one index per row, shape ({batch_size},), got {ids.shape}; squeeze the sample axis")
    require(np.issubdtype(ids.dtype, np.integer), f"expected integer indices, got {ids.dtype}")
    require(np.all((ids >= 0) & (ids < vocab_size)), f"indices must lie in [0, {vocab_size})")
    cold = _numpy(sample_next(logits, 1e-3))
    require(np.array_equal(cold, np.argmax(_numpy(logits), -1)),
            "at a tiny temperature sampling must pick the most likely character: divide the logits by the temperature")
    draws = np.stack([_numpy(sample_next(tf.zeros((64, vocab_size)), 1.0)) for _ in range(4)])
    require(len(np.unique(draws)) > 1, "with equal logits the samples never vary: draw with tf.random.categorical, not argmax")
    return "sample_next draws one index per row, greedy as temperature → 0"
