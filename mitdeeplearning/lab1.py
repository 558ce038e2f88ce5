"""Lab 1: TensorFlow basics (Part 1) and music generation with an LSTM (Part 2).

Music helpers (loading, splitting, validating, playing and drawing ABC tunes) live in
:mod:`mitdeeplearning.music` and are re-exported here under the names the 2020/21 notebooks use.
Every ``check_*`` function prints one ✔ line or raises ``AssertionError`` with a hint; the
2020/21 ``test_*`` names are kept and behave the same way.
"""

import math

import numpy as np

from .checks import activation_name, attempt, check, require, require_descent, run_train_steps
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
    """A 2-d tensor (rank 2) of numbers, at least 2 × 2 (the notebook then reads ``matrix[1]`` and ``matrix[:, 1]``)."""
    require(matrix is not None, "matrix is None: assign the tensor, e.g. matrix = tf.constant([[1, 2], [3, 4]])")
    require(_is_tensor(matrix), f"expected a tf.Tensor made with tf.constant, got {type(matrix).__name__}; "
            f"wrap the nested list in tf.constant: matrix = tf.constant([[1, 2], [3, 4]])")
    rank = len(matrix.shape)
    if rank < 2:
        require(False, f"expected a 2-d tensor (rank 2), got rank {rank}: a matrix is a list of rows, so add the "
                f"outer brackets: tf.constant([[1, 2], [3, 4]])")
    require(rank == 2, f"expected a 2-d tensor (rank 2), got rank {rank}: one pair of brackets too many; "
            f"a matrix is a list of rows, tf.constant([[1, 2], [3, 4]])")
    require(matrix.dtype.is_floating or matrix.dtype.is_integer,
            f"a matrix of numbers, got dtype {matrix.dtype.name}: write numbers, not strings or booleans")
    require(int(np.prod(matrix.shape)) > 0, "the matrix is empty; give it at least one row and one column")
    rows, cols = (int(d) for d in matrix.shape)
    require(rows >= 2 and cols >= 2, f"the matrix has shape {(rows, cols)}; the slicing cell below reads its second row "
            f"and column (matrix[1], matrix[:, 1]), so give it at least two rows of at least two numbers: "
            f"tf.constant([[1, 2], [3, 4]])")
    return f"matrix is a 2-d tensor of shape {tuple(matrix.shape)}"


@check
def check_images(images):
    """A 4-d tensor of zeros, shape 10 x 256 x 256 x 3 (batch, height, width, colour)."""
    require(images is not None, "images is None: assign the tensor, images = tf.zeros([...])")
    require(_is_tensor(images), f"expected a tf.Tensor made with tf.zeros, got {type(images).__name__}")
    shape = tuple(int(d) for d in images.shape)
    expected = (10, 256, 256, 3)
    require(len(shape) == 4, f"expected a 4-d tensor [batch, height, width, channels] = [10, 256, 256, 3], "
            f"got rank {len(shape)} (shape {shape})")
    if shape != expected:
        if sorted(shape) == sorted(expected):
            require(False, f"got shape {shape}: the order is [batch, height, width, channels] with the channels "
                    f"last, tf.zeros([10, 256, 256, 3])")
        if shape[0] != 10:
            require(False, f"got shape {shape}: the first dimension is the batch of 10 images")
        require(False, f"expected shape (10, 256, 256, 3), got {shape}")
    require(not np.any(_numpy(images)), "expected all zeros: make the tensor with tf.zeros([10, 256, 256, 3])")
    return "images is a 10 x 256 x 256 x 3 tensor of zeros"


@check
def check_func(func, trials=5, seed=0):
    """``func(a, b)`` returns e = (a + b) * (b - 1), for several random inputs."""
    tf = _tf()
    rng = np.random.default_rng(seed)
    fix = "compute c = tf.add(a, b), d = tf.subtract(b, 1), e = tf.multiply(c, d) and return e"
    for _ in range(trials):
        a, b = (float(v) for v in rng.uniform(-10, 10, size=2))
        expected = (a + b) * (b - 1)
        got = attempt(func, tf.constant(a), tf.constant(b), fix=fix)
        require(got is not None, "func returned None: end it with `return e`")
        value = _scalar(got, "e")
        if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-4):
            hints = [
                ((a + b) * b, "did you compute d = b - 1 (tf.subtract(b, 1))?"),
                ((a + b) * (1 - b), "d is b - 1, not 1 - b: tf.subtract(b, 1) takes b first"),
                ((a + b) + (b - 1), "e should multiply c and d (tf.multiply), not add them"),
                ((a + b) / (b - 1), "e should multiply c and d (tf.multiply), not divide them"),
                ((a - b) * (b - 1), "c is the sum a + b (tf.add), not the difference"),
                (a + b * (b - 1), "compute c = a + b first, then e = c * d: a + b * (b - 1) multiplies before it adds"),
                (a + b, "you returned c; return e = c * d"),
                (b - 1, "you returned d; return e = c * d"),
            ]
            hint = next((h for v, h in hints if math.isclose(value, v, rel_tol=1e-4, abs_tol=1e-4)), fix)
            require(False, f"for a={a:.3f}, b={b:.3f} expected e=(a+b)*(b-1)={expected:.4f}, got {value:.4f}: {hint}")
    return f"func computes e = (a + b)(b - 1) correctly on {trials} random inputs"


def _dense_weights(layer, in_dim):
    W, b = getattr(layer, "W", None), getattr(layer, "b", None)
    if W is not None and b is not None:
        return _numpy(W).astype(np.float64), _numpy(b).astype(np.float64).reshape(-1)
    weights = [_numpy(w) for w in layer.weights]
    kernels = [w for w in weights if w.ndim == 2 and w.shape[0] == in_dim]
    require(kernels, f"the layer has no weight matrix of shape ({in_dim}, n_output_nodes); create W in build()")
    kernel = kernels[0]
    biases = [w for w in weights if w is not kernel and w.size == kernel.shape[1]]
    require(biases, f"the layer has no bias with {kernel.shape[1]} entries; create b in build()")
    return kernel.astype(np.float64), biases[0].astype(np.float64).reshape(-1)


def _compare_dense(x_np, y, W, b):
    require(y is not None, "call() returned None: end it with `return y`")
    y_np = _numpy(y).astype(np.float64)
    want_shape = x_np.shape[:-1] + (W.shape[1],)
    require(y_np.shape == want_shape, f"expected output shape {want_shape}, got {y_np.shape}; "
            f"compute tf.matmul(x, self.W) + self.b")
    z = x_np @ W + b
    sig = 1 / (1 + np.exp(-z))
    if np.allclose(y_np, sig, atol=1e-5):
        return y_np
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    variants = [
        (z, "the output is x W + b without the sigmoid: apply tf.math.sigmoid to z"),
        (1 / (1 + np.exp(-(x_np @ W))), "the output ignores the bias b: z = tf.matmul(x, self.W) + self.b"),
        (1 / (1 + np.exp(-(x_np @ W))) + b, "the bias is added after the sigmoid: add it first, y = sigmoid(x W + b)"),
        (np.maximum(z, 0), "the output is a ReLU of z; this layer uses the sigmoid: tf.math.sigmoid(z)"),
        (np.tanh(z), "the output is tanh(z); this layer uses the sigmoid: tf.math.sigmoid(z)"),
        (e / e.sum(axis=-1, keepdims=True), "the output is a softmax of z; the sigmoid works element by element: tf.math.sigmoid(z)"),
    ]
    for value, hint in variants:
        if value.shape == y_np.shape and np.allclose(y_np, value, atol=1e-5):
            require(False, hint)
    require(False, "the output differs from sigmoid(x W + b) computed from the layer's own weights W and b")


_DENSE_FIX = ("call() computes z = tf.matmul(x, self.W) + self.b (x of shape (batch, d) times W of shape "
              "(d, n_output_nodes); tf.multiply is element-wise and does not combine these shapes), then "
              "y = tf.math.sigmoid(z)")


@check
def check_custom_dense_layer(layer, x, y=None):
    """The layer's output is sigmoid(x W + b), recomputed from the layer's own weights.

    Pass ``y`` (the output already computed) or let the check call ``layer.call(x)`` itself; it
    also calls the layer on a second input, so an answer that ignores ``x`` is caught.
    """
    tf = _tf()
    x_np = _numpy(x).astype(np.float64)
    if y is None:
        y = attempt(layer.call, x, fix=_DENSE_FIX)
    W, b = _dense_weights(layer, x_np.shape[-1])
    y_np = _compare_dense(x_np, y, W, b)
    x2 = np.random.default_rng(3).normal(size=(4, x_np.shape[-1])).astype(np.float32)
    y2 = attempt(layer.call, tf.constant(x2), fix=_DENSE_FIX)
    require(y2 is not None and _numpy(y2).shape == (4, W.shape[1]),
            "on a batch of 4 inputs the layer did not return 4 rows: call() must compute from its argument x")
    _compare_dense(x2.astype(np.float64), y2, W, b)
    return f"custom dense layer computes sigmoid(xW + b), output shape {y_np.shape}"


def _caller_value(name):
    import inspect

    frame = inspect.currentframe()
    try:
        f = frame.f_back
        while f is not None:
            if name in f.f_globals and f.f_globals.get("__name__") != __name__:
                return f.f_globals[name]
            f = f.f_back
    finally:
        del frame
    return None


@check
def test_custom_dense_layer_output(y, layer=None, x=None):
    """2020/21 name: ``y`` is sigmoid(x·W + b) computed from the layer's own weights.

    The 2020/21 notebooks call it with ``y`` alone; the check then finds their ``layer`` and
    ``x_input`` in the notebook's namespace. Pass ``layer=`` and ``x=`` to name them yourself.
    Where neither is given nor found, only the shape and the sigmoid's range can be checked, as
    the 2020/21 function did, and the ✔ line says so.
    """
    y_np = _numpy(y)
    require(y_np.ndim == 2, f"expected a 2-d output (batch, n_output_nodes), got shape {y_np.shape}")
    require(np.all((y_np > 0) & (y_np < 1)), "a sigmoid output lies strictly between 0 and 1; did you apply tf.math.sigmoid?")
    layer = layer if layer is not None else _caller_value("layer")
    x = x if x is not None else _caller_value("x_input")
    if layer is None or x is None or not hasattr(layer, "weights"):
        return ("test_custom_dense_layer_output: shape and range only (pass layer= and x= to compare with "
                "sigmoid(x W + b) from the layer's weights)")
    _compare_dense(_numpy(x).astype(np.float64), y, *_dense_weights(layer, _numpy(x).shape[-1]))
    return "test_custom_dense_layer_output: y = sigmoid(x W + b) from the layer's own weights"


@check
def check_sequential_model(model, n_output_nodes, x):
    """A Sequential model holding one Dense layer with ``n_output_nodes`` outputs."""
    tf = _tf()
    fix = f"model = keras.Sequential([keras.layers.Dense(n_output_nodes)]) (a list of layers)"
    if isinstance(model, tf.keras.layers.Layer) and not isinstance(model, tf.keras.Model):
        require(False, f"model is a single {type(model).__name__} layer, not a model: wrap it, {fix}")
    require(isinstance(model, tf.keras.Sequential), f"expected a keras.Sequential, got {type(model).__name__}: {fix}")
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    require(dense, f"the model holds no Dense layer: {fix}")
    require(len(dense) == 1, f"the model should hold exactly one Dense layer, it has {len(dense)}: {fix}")
    require(dense[0].units == n_output_nodes, f"the Dense layer has {dense[0].units} units; it needs n_output_nodes = "
            f"{n_output_nodes}: keras.layers.Dense(n_output_nodes)")
    y = _numpy(attempt(model, x, fix=fix))
    require(y.shape == (x.shape[0], n_output_nodes), f"expected output shape {(x.shape[0], n_output_nodes)}, got {y.shape}; {fix}")
    return f"Sequential model maps {tuple(x.shape)} to {y.shape}"


def _sublayers(layer):
    """Every layer inside ``layer``, however deep (a Sequential held in an attribute included)."""
    found = []
    for sub in getattr(layer, "layers", []):
        found += [sub] + _sublayers(sub)
    return found


@check
def check_subclass_model(model, n_output_nodes, x):
    """A subclassed ``keras.Model`` whose dense layer has ``n_output_nodes`` outputs."""
    tf = _tf()
    fix = ("in __init__ create an instance, self.dense_layer = keras.layers.Dense(n_output_nodes), "
           "using the argument n_output_nodes; call() uses self.dense_layer")
    require(isinstance(model, tf.keras.Model), f"expected a keras.Model subclass, got {type(model).__name__}")
    require(type(model) not in (tf.keras.Model, tf.keras.Sequential), "subclass keras.Model (class SubclassModel(keras.Model): ...)")
    y = _numpy(attempt(model, x, fix=fix))
    require(y.shape == (x.shape[0], n_output_nodes), f"expected output shape {(x.shape[0], n_output_nodes)}, got {y.shape}: {fix}")
    dense = [la for la in _sublayers(model) if isinstance(la, tf.keras.layers.Dense)]
    require(len(dense) <= 1, f"the model holds {len(dense)} Dense layers; the text asks for the model's one dense layer: "
            f"create only self.dense_layer = keras.layers.Dense(n_output_nodes), and call() applies it alone")
    other = attempt(type(model), n_output_nodes + 2, fix=fix)
    y2 = _numpy(attempt(other, x, fix=fix))
    require(y2.shape == (x.shape[0], n_output_nodes + 2),
            f"{type(model).__name__}({n_output_nodes + 2}) gives output shape {y2.shape}: use the argument "
            f"n_output_nodes for the Dense layer's units, not a fixed number")
    return f"subclassed model maps {tuple(x.shape)} to {y.shape}"


@check
def check_identity_model(model, x):
    """``model.call(x, isidentity=True)`` returns ``x``; with False, the dense layer's output."""
    tf = _tf()
    fix = "call(inputs, isidentity) returns inputs when isidentity is True, else self.dense_layer(inputs)"
    x_np = _numpy(x)
    x2 = tf.constant(np.random.default_rng(5).normal(size=(3,) + tuple(x_np.shape[1:])).astype(np.float32))
    x2_np = _numpy(x2)
    same = attempt(model.call, x2, isidentity=True, fix=fix)
    out = attempt(model.call, x2, isidentity=False, fix=fix)
    for value, flag in ((same, True), (out, False)):
        require(value is not None, f"with isidentity={flag} call() returned None: every path needs a `return` ({fix})")
        require(not isinstance(value, tf.keras.layers.Layer),
                f"with isidentity={flag} call() returned the layer itself; call it on the inputs: self.dense_layer(inputs)")
    same, out = _numpy(same), _numpy(out)
    dense = getattr(model, "dense_layer", None)
    dense_out = _numpy(dense(x2)) if dense is not None else None
    if dense_out is not None and same.shape == dense_out.shape and np.allclose(same, dense_out) \
            and out.shape == x2_np.shape and np.allclose(out, x2_np):
        require(False, "the switch is inverted: return the inputs when isidentity is True, the dense output otherwise")
    if same.shape == x_np.shape and np.allclose(same, x_np) and not (same.shape == x2_np.shape and np.allclose(same, x2_np)):
        require(False, "with isidentity=True call() returned the notebook's x_input, not its own argument: return inputs")
    require(same.shape == x2_np.shape and np.allclose(same, x2_np), "with isidentity=True, call() must return its input unchanged: return inputs")
    require(not (out.shape == x2_np.shape and np.allclose(out, x2_np)), "with isidentity=False, call() must apply the dense layer: return self.dense_layer(inputs)")
    if dense_out is not None:
        require(out.shape == dense_out.shape and np.allclose(out, dense_out, atol=1e-6),
                "with isidentity=False, call() should return self.dense_layer(inputs)")
    return "identity switch returns the input, and the dense output otherwise"


@check
def check_gradient(x, dy_dx):
    """``dy_dx`` is the derivative of y = x² at ``x`` (that is 2x)."""
    require(dy_dx is not None, "the gradient is None: compute y = x * x inside `with tf.GradientTape() as tape:` and "
            "then ask for tape.gradient(y, x) (the target y first, then the variable x)")
    if isinstance(dy_dx, (list, tuple)) and len(dy_dx) == 1:
        dy_dx = dy_dx[0]
        require(dy_dx is not None, "the gradient is None: compute y inside the GradientTape and ask tape.gradient(y, x)")
    x_v, g = _scalar(x, "x"), _scalar(dy_dx, "dy_dx")
    if not math.isclose(g, 2 * x_v, rel_tol=1e-5):
        hints = [
            (x_v * x_v, "that is y itself: ask the tape for the derivative, dy_dx = tape.gradient(y, x)"),
            (x_v, "that is x itself: ask the tape for the derivative, dy_dx = tape.gradient(y, x)"),
            (2.0, "that is the derivative of x + x; compute y = x * x"),
            (1.0, "that is the derivative of y = x; compute y = x * x"),
            (3 * x_v * x_v, "that is the derivative of x ** 3; compute y = x * x"),
        ]
        hint = next((h for v, h in hints if math.isclose(g, v, rel_tol=1e-5)), "compute y = x * x under the tape, then tape.gradient(y, x)")
        require(False, f"dy/dx of x² at x={x_v:g} is {2 * x_v:g}, got {g:g}: {hint}")
    return f"dy/dx = {g:g} at x = {x_v:g}"


def _sgd_path(values, x_f, learning_rate, sign=1.0):
    """x after each step of SGD at ``learning_rate`` on (x - sign·x_f)², each from the recorded x before it."""
    return values[:-1] - learning_rate * 2 * (values[:-1] - sign * x_f)


@check
def check_sgd(history, x_f, learning_rate, tol=0.05):
    """Every recorded x is one SGD step on (x − x_f)² from the x before it: x ← x − learning_rate · 2(x − x_f).

    Judged step by step with the notebook's ``learning_rate``, so a correct loop passes at any
    learning rate and number of steps; the ✔ line says whether x reached x_f (within ``tol``).
    """
    values = np.array([_scalar(v, "each entry of the history") for v in history])
    lr = _scalar(learning_rate, "learning_rate")
    require(lr > 0, f"learning_rate is {lr:g}; pass the parameters cell's learning_rate, a positive number")
    require(len(values) >= 2, "record x after every iteration in the history list")
    if not np.isfinite(values).all():
        require(lr < 1, f"x became inf or nan: with learning_rate = {lr:g} (1 or more) every SGD step on (x - x_f)**2 "
                f"overshoots x_f further than the last; choose a learning_rate below 1 in the parameters cell")
        require(False, "x became inf or nan: x moved away from x_f ever faster; descend the loss "
                "(no minus sign on the loss or the gradients)")

    def follows(predicted):
        return np.allclose(values[1:], predicted, rtol=1e-5, atol=1e-5 * max(1.0, abs(x_f)))

    start, end = abs(values[0] - x_f), abs(values[-1] - x_f)
    if follows(_sgd_path(values, x_f, lr)):
        where = (f"x reached {values[-1]:.4f} (target {x_f})" if end <= tol else
                 f"x = {values[-1]:.4f} after {len(values)} steps, still {end:.3f} from x_f = {x_f} (more sgd_steps or a "
                 f"larger learning_rate get closer)")
        return f"every step is SGD on (x - x_f)**2 at learning_rate {lr:g}; {where}"
    steps = np.diff(values)
    if np.ptp(values) < 1e-9:
        require(False, "x never changed: apply the gradient to x with optimizer.apply_gradients([(grads, x)])")
    if follows(_sgd_path(values, x_f, lr, sign=-1.0)):
        require(False, f"x heads for -x_f = {-x_f:g}: the loss is (x - x_f)**2, with a minus inside")
    if len(steps) >= 3 and np.allclose(steps, steps[0], rtol=1e-3, atol=1e-7):
        require(False, f"x moved by the same step ({steps[0]:+.4f}) every iteration, as a linear loss does: square "
                f"the difference, loss = (x - x_f)**2")
    if follows(values[:-1] + lr * 2 * (values[:-1] - x_f)):
        require(False, f"x moved away from x_f ({values[0]:.3f} → {values[-1]:.3f}): gradient descent lowers the "
                f"loss, so don't negate the loss or the gradients")
    gaps = values - x_f
    usable = np.abs(gaps[:-1]) > 1e-3 * max(1.0, abs(x_f))
    if usable.sum() >= 2:
        ratios = gaps[1:][usable] / gaps[:-1][usable]
        if np.allclose(ratios, ratios[0], rtol=1e-3, atol=1e-4) and abs(ratios[0] - 1) > 1e-6:
            seen = (1 - ratios[0]) / 2
            require(False, f"x moved as SGD on (x - x_f)**2 at a learning rate of {seen:.4g}, not the parameters cell's "
                    f"learning_rate = {lr:g}: the loss is (x - x_f)**2 itself (not scaled) and the optimizer "
                    f"keras.optimizers.SGD(learning_rate=learning_rate)")
    if abs(steps[-1]) < 1e-6 and end > tol:
        require(False, f"x settled at {values[-1]:.4f}, not at x_f={x_f}: the loss must have its minimum at x_f, "
                f"loss = (x - x_f)**2")
    if end > start:
        require(False, f"x moved away from x_f ({values[0]:.3f} → {values[-1]:.3f}): gradient descent lowers the "
                f"loss, so don't negate the loss or the gradients")
    predicted = _sgd_path(values, x_f, lr)
    i = int(np.argmax(np.abs(values[1:] - predicted)))
    require(False, f"from x = {values[i]:.4f}, one SGD step on (x - x_f)**2 at learning_rate {lr:g} gives "
            f"{predicted[i]:.4f}, your loop gave {values[i + 1]:.4f}: compute loss = (x - x_f)**2 under the tape and "
            f"apply its gradient once per iteration (optimizer.apply_gradients)")


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
    """``vectorize_string`` returns a 1-d integer NumPy array that decodes back to the text."""
    tf = _tf()
    sample = text[:500]
    v = attempt(vectorize_string, sample, fix="map each character c of `string` to char2idx[c] and return "
                "np.array([...], dtype=np.int64)")
    require(v is not None, "vectorize_string returned None: return the array of indices")
    require(not _is_tensor(v), "return a NumPy array (np.array([...])), not a tf.Tensor")
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
    return f"vectorize_string round-trips, dtype {v.dtype}"


def _batch(func, args):
    ret = attempt(func, *args, fix=_BATCH_FIX)
    require(isinstance(ret, tuple) and len(ret) == 2, "get_batch must return two arrays: (input_batch, target_batch)")
    return ret


def _batch_arrays(func, args):
    """The two batches as NumPy arrays (a tf.Tensor batch is as good as a NumPy one)."""
    return tuple(_numpy(a) if _is_tensor(a) else a for a in _batch(func, args))


_BATCH_FIX = ("pick batch_size random starts in [0, n - seq_length) (n = len(vectorized_songs) - 1) so that every "
              "window fits; input_batch rows are vectorized_songs[i : i + seq_length], target rows "
              "vectorized_songs[i + 1 : i + seq_length + 1]")


@check
def test_batch_func_types(func, args):
    """2020/21 name: get_batch returns two arrays of integer indices (NumPy arrays or tf tensors:
    the training step takes either)."""
    x, y = _batch(func, args)
    for name, arr in (("input", x), ("target", y)):
        require(isinstance(arr, np.ndarray) or _is_tensor(arr), f"the {name} batch is a {type(arr).__name__}, expected a "
                f"NumPy array (np.stack or np.array of the windows; a tf.Tensor works too)")
        dtype = _numpy(arr).dtype
        require(np.issubdtype(dtype, np.integer),
                f"expected integer indices in the {name} batch, got {dtype} — did np.append (or the "
                f"vectorised songs) turn them into floats? Embedding layers need integer indices.")
    return "test_batch_func_types"


@check
def test_batch_func_shapes(func, args):
    """2020/21 name: both batches have shape (batch_size, seq_length)."""
    _, seq_length, batch_size = args
    x, y = _batch_arrays(func, args)
    expected = (batch_size, seq_length)
    require(np.shape(x) == expected, f"input batch has shape {np.shape(x)}, expected (batch_size, seq_length) = {expected}")
    require(np.shape(y) == expected, f"target batch has shape {np.shape(y)}, expected {expected}")
    return "test_batch_func_shapes"


@check
def test_batch_func_next_step(func, args):
    """2020/21 name: targets are the inputs shifted by one step."""
    x, y = (np.asarray(a) for a in _batch_arrays(func, args))
    if not np.array_equal(x[:, 1:], y[:, :-1]):
        if np.array_equal(x, y):
            require(False, "the target equals the input: take it one character later, vectorized_songs[i + 1 : i + seq_length + 1]")
        if np.array_equal(y[:, 1:], x[:, :-1]):
            require(False, "input and target are swapped (the target comes before the input): inputs start at i, targets at i + 1")
        if np.array_equal(x[:, 2:], y[:, :-2]):
            require(False, "the target is shifted two characters ahead: it starts at i + 1, vectorized_songs[i + 1 : i + seq_length + 1]")
        require(False, "the target must be the input shifted one character ahead: y[i] = vectorized[start+1 : start+1+seq_length]")
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
    """Types, shapes, shift by one, windows of the data at random starts that differ within a batch.

    Besides the student's data, the check feeds ``get_batch`` a short sequence 0, 1, 2, ... in
    which every window names its own start, so it sees exactly which starts were drawn.
    """
    args = (vectorized, seq_length, batch_size)
    for sub in (test_batch_func_types, test_batch_func_shapes, test_batch_func_next_step):
        sub.__wrapped__(get_batch, args)
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
    logits = _numpy(attempt(model, x, fix=fix))
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
    ids = _numpy(ids)
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
        return float(np.mean(_numpy(attempt(sample_next, peaked, t, fix=fix)) == 0))

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
    cold = _numpy(sample_next(logits, 1e-3))
    require(np.array_equal(cold, np.argmax(_numpy(logits), -1)),
            "at a tiny temperature sampling must pick the most likely character: divide the logits by the temperature")
    return "sample_next draws one index per row from softmax(logits / temperature), greedy as temperature → 0"
