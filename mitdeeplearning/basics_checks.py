"""The checks of lab 1, part 1 (TensorFlow basics): tensors, a computation, layers and models,
the gradient tape and gradient descent.

Each ``check_*`` prints one ✔ line or raises ``AssertionError`` with a hint (see
:mod:`mitdeeplearning.checks`). Layers and models are judged by calling them and recomputing their
output from their own weights. TensorFlow is imported by the checks that need it.
"""

import math

import numpy as np

from .checks import attempt, check, is_tensor, require, to_numpy

__all__ = ["check_matrix", "check_images", "check_func", "check_custom_dense_layer", "check_sequential_model",
           "check_subclass_model", "check_identity_model", "check_gradient", "check_sgd"]


def _tf():
    import tensorflow as tf

    return tf


def _scalar(value, what):
    arr = to_numpy(value)
    require(arr.size == 1, f"{what} should be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(-1)[0])


@check
def check_matrix(matrix):
    """A 2-d tensor (rank 2) of numbers, at least 2 × 2 (the notebook then reads ``matrix[1]`` and ``matrix[:, 1]``)."""
    require(matrix is not None, "matrix is None: assign the tensor, e.g. matrix = tf.constant([[1, 2], [3, 4]])")
    require(is_tensor(matrix), f"expected a tf.Tensor made with tf.constant, got {type(matrix).__name__}; "
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
    require(is_tensor(images), f"expected a tf.Tensor made with tf.zeros, got {type(images).__name__}")
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
    require(not np.any(to_numpy(images)), "expected all zeros: make the tensor with tf.zeros([10, 256, 256, 3])")
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
        return to_numpy(W).astype(np.float64), to_numpy(b).astype(np.float64).reshape(-1)
    weights = [to_numpy(w) for w in layer.weights]
    kernels = [w for w in weights if w.ndim == 2 and w.shape[0] == in_dim]
    require(kernels, f"the layer has no weight matrix of shape ({in_dim}, n_output_nodes); create W in build()")
    kernel = kernels[0]
    biases = [w for w in weights if w is not kernel and w.size == kernel.shape[1]]
    require(biases, f"the layer has no bias with {kernel.shape[1]} entries; create b in build()")
    return kernel.astype(np.float64), biases[0].astype(np.float64).reshape(-1)


def _compare_dense(x_np, y, W, b):
    require(y is not None, "call() returned None: end it with `return y`")
    y_np = to_numpy(y).astype(np.float64)
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
    x_np = to_numpy(x).astype(np.float64)
    if y is None:
        y = attempt(layer.call, x, fix=_DENSE_FIX)
    W, b = _dense_weights(layer, x_np.shape[-1])
    y_np = _compare_dense(x_np, y, W, b)
    x2 = np.random.default_rng(3).normal(size=(4, x_np.shape[-1])).astype(np.float32)
    y2 = attempt(layer.call, tf.constant(x2), fix=_DENSE_FIX)
    require(y2 is not None and to_numpy(y2).shape == (4, W.shape[1]),
            "on a batch of 4 inputs the layer did not return 4 rows: call() must compute from its argument x")
    _compare_dense(x2.astype(np.float64), y2, W, b)
    return f"custom dense layer computes sigmoid(xW + b), output shape {y_np.shape}"


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
    y = to_numpy(attempt(model, x, fix=fix))
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
    y = to_numpy(attempt(model, x, fix=fix))
    require(y.shape == (x.shape[0], n_output_nodes), f"expected output shape {(x.shape[0], n_output_nodes)}, got {y.shape}: {fix}")
    dense = [la for la in _sublayers(model) if isinstance(la, tf.keras.layers.Dense)]
    require(len(dense) <= 1, f"the model holds {len(dense)} Dense layers; the text asks for the model's one dense layer: "
            f"create only self.dense_layer = keras.layers.Dense(n_output_nodes), and call() applies it alone")
    other = attempt(type(model), n_output_nodes + 2, fix=fix)
    y2 = to_numpy(attempt(other, x, fix=fix))
    require(y2.shape == (x.shape[0], n_output_nodes + 2),
            f"{type(model).__name__}({n_output_nodes + 2}) gives output shape {y2.shape}: use the argument "
            f"n_output_nodes for the Dense layer's units, not a fixed number")
    return f"subclassed model maps {tuple(x.shape)} to {y.shape}"


@check
def check_identity_model(model, x):
    """``model.call(x, isidentity=True)`` returns ``x``; with False, the dense layer's output."""
    tf = _tf()
    fix = "call(inputs, isidentity) returns inputs when isidentity is True, else self.dense_layer(inputs)"
    x_np = to_numpy(x)
    x2 = tf.constant(np.random.default_rng(5).normal(size=(3,) + tuple(x_np.shape[1:])).astype(np.float32))
    x2_np = to_numpy(x2)
    same = attempt(model.call, x2, isidentity=True, fix=fix)
    out = attempt(model.call, x2, isidentity=False, fix=fix)
    for value, flag in ((same, True), (out, False)):
        require(value is not None, f"with isidentity={flag} call() returned None: every path needs a `return` ({fix})")
        require(not isinstance(value, tf.keras.layers.Layer),
                f"with isidentity={flag} call() returned the layer itself; call it on the inputs: self.dense_layer(inputs)")
    same, out = to_numpy(same), to_numpy(out)
    dense = getattr(model, "dense_layer", None)
    dense_out = to_numpy(dense(x2)) if dense is not None else None
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
