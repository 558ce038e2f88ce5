"""Mistake catalogue of lab 1: every TODO's check against realistic wrong answers and valid alternatives.

Answers are written as a student would write them from the notebook's text; each wrong one must be
rejected with a hint naming its fix, each valid one must pass. See tests/catalogue.py.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from catalogue import Catalogue
from mitdeeplearning import lab1

C = Catalogue("lab 1")
L = keras.layers

# ============================================================================ Part 1

# --- TODO 1.1: matrix = tf.constant(...)
for label, value, keys in [
    ("a nested Python list", [[1, 2], [3, 4]], ("tf.constant",)),
    ("a NumPy array", np.array([[1, 2], [3, 4]]), ("tf.constant",)),
    ("a vector", [1, 2, 3], ("outer brackets",)),
    ("a scalar", 5.0, ("outer brackets",)),
    ("one pair of brackets too many", [[[1, 2], [3, 4]]], ("too many",)),
    ("strings", [["a", "b"], ["c", "d"]], ("numbers",)),
    ("booleans", [[True, False]], ("numbers",)),
    ("an empty matrix", np.zeros((0, 3), np.float32), ("empty",)),
    ("one row, shape (1, 3)", [[1.0, 2.0, 3.0]], ("two rows", "matrix[1]")),
    ("one column, shape (3, 1)", [[1.0], [2.0], [3.0]], ("two numbers", "matrix[:, 1]")),
]:
    wrapped = value if label in ("a nested Python list", "a NumPy array") else None
    C.wrong("1.1", label, *keys)(
        (lambda v=value: lab1.check_matrix(v)) if wrapped is not None else (lambda v=value: lab1.check_matrix(tf.constant(v))))
for label, make in [
    ("floats", lambda: tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
    ("float64 with a dtype", lambda: tf.constant([[1, 2], [3, 4]], dtype=tf.float64)),
    ("from NumPy", lambda: tf.constant(np.arange(6).reshape(2, 3))),
    ("a tf.Variable", lambda: tf.Variable([[1.0, 0.0], [0.0, 1.0]])),
]:
    C.valid("1.1", label)(lambda make=make: lab1.check_matrix(make()))

# --- TODO 1.2: images = tf.zeros([10, 256, 256, 3])
for label, make, keys in [
    ("NumPy zeros", lambda: np.zeros((10, 256, 256, 3)), ("tf.zeros",)),
    ("channels first", lambda: tf.zeros([10, 3, 256, 256]), ("channels last",)),
    ("batch last", lambda: tf.zeros([256, 256, 3, 10]), ("order",)),
    ("no batch axis", lambda: tf.zeros([256, 256, 3]), ("4-d",)),
    ("no channel axis", lambda: tf.zeros([10, 256, 256]), ("4-d",)),
    ("ones", lambda: tf.ones([10, 256, 256, 3]), ("zeros",)),
    ("random values", lambda: tf.random.normal([10, 256, 256, 3]), ("zeros",)),
    ("one image", lambda: tf.zeros([1, 256, 256, 3]), ("batch of 10",)),
]:
    C.wrong("1.2", label, *keys)(lambda make=make: lab1.check_images(make()))
for label, make in [
    ("tf.zeros", lambda: tf.zeros([10, 256, 256, 3])),
    ("uint8 zeros, a tuple shape", lambda: tf.zeros((10, 256, 256, 3), dtype=tf.uint8)),
    ("keyword shape", lambda: tf.zeros(shape=[10, 256, 256, 3])),
    ("tf.constant of NumPy zeros", lambda: tf.constant(np.zeros((10, 256, 256, 3)))),
]:
    C.valid("1.2", label)(lambda make=make: lab1.check_images(make()))

# --- TODO 1.3: e = (a + b) * (b - 1)
for label, f, keys in [
    ("forgot d", lambda a, b: (a + b) * b, ("d = b - 1",)),
    ("d = 1 - b", lambda a, b: tf.multiply(tf.add(a, b), tf.subtract(1.0, b)), ("not 1 - b",)),
    ("added c and d", lambda a, b: tf.add(tf.add(a, b), tf.subtract(b, 1)), ("multiply",)),
    ("divided c by d", lambda a, b: (a + b) / (b - 1), ("not divide",)),
    ("c = a - b", lambda a, b: tf.subtract(a, b) * (b - 1), ("sum a + b",)),
    ("no c: a + b * (b - 1)", lambda a, b: a + b * (b - 1), ("first",)),
    ("returned c", lambda a, b: tf.add(a, b), ("you returned c",)),
    ("returned d", lambda a, b: tf.subtract(b, 1), ("you returned d",)),
]:
    C.wrong("1.3", label, *keys)(lambda f=f: lab1.check_func(f))
for label, f in [
    ("tf.add / tf.subtract / tf.multiply", lambda a, b: tf.multiply(tf.add(a, b), tf.subtract(b, 1))),
    ("operators", lambda a, b: (a + b) * (b - 1)),
    ("tf.math names", lambda a, b: tf.math.multiply(tf.math.add(a, b), tf.math.subtract(b, 1))),
    ("NumPy values", lambda a, b: (a.numpy() + b.numpy()) * (b.numpy() - 1)),
]:
    C.valid("1.3", label)(lambda f=f: lab1.check_func(f))


# --- TODO 1.4: the dense layer's call()
class OurDenseLayer(keras.layers.Layer):
    """The notebook's layer; `fn(self, x)` is the student's call()."""

    def __init__(self, n_output_nodes, fn):
        super().__init__()
        self.n_output_nodes, self.fn = n_output_nodes, fn

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.W = self.add_weight(name="weight", shape=(d, self.n_output_nodes), initializer="glorot_uniform")
        self.b = self.add_weight(name="bias", shape=(1, self.n_output_nodes), initializer="random_normal")

    def call(self, x):
        return self.fn(self, x)


X_INPUT = tf.constant([[1.0, 2.0]], shape=(1, 2))


def dense_check(fn):
    # fixed weights: with random ones, about one draw in eight makes every z positive, and then a
    # ReLU is indistinguishable from no activation on X_INPUT (the test would depend on test order)
    keras.utils.set_random_seed(1)
    layer = OurDenseLayer(3, fn)
    layer.build((1, 2))
    return lab1.check_custom_dense_layer(layer, X_INPUT)


for label, fn, keys in [
    ("no sigmoid", lambda s, x: tf.matmul(x, s.W) + s.b, ("without the sigmoid",)),
    ("no bias", lambda s, x: tf.math.sigmoid(tf.matmul(x, s.W)), ("ignores the bias",)),
    ("bias after the sigmoid", lambda s, x: tf.math.sigmoid(tf.matmul(x, s.W)) + s.b, ("added after the sigmoid",)),
    ("ReLU instead of sigmoid", lambda s, x: tf.nn.relu(tf.matmul(x, s.W) + s.b), ("ReLU", "sigmoid")),
    ("softmax instead of sigmoid", lambda s, x: tf.nn.softmax(tf.matmul(x, s.W) + s.b), ("softmax", "element by element")),
    ("tanh instead of sigmoid", lambda s, x: tf.math.tanh(tf.matmul(x, s.W) + s.b), ("tanh",)),
    ("W times x", lambda s, x: tf.math.sigmoid(tf.matmul(s.W, x) + s.b), ("tf.matmul(x, self.W)",)),
    ("element-wise multiply", lambda s, x: tf.math.sigmoid(tf.multiply(x, s.W) + s.b), ("element-wise",)),
    ("the notebook's x_input instead of x", lambda s, x: tf.math.sigmoid(tf.matmul(X_INPUT, s.W) + s.b), ("its argument x",)),
]:
    C.wrong("1.4", label, *keys)(lambda fn=fn: dense_check(fn))
for label, fn in [
    ("tf.math.sigmoid", lambda s, x: tf.math.sigmoid(tf.matmul(x, s.W) + s.b)),
    ("@ and tf.sigmoid", lambda s, x: tf.sigmoid(x @ s.W + s.b)),
    ("keras.activations.sigmoid", lambda s, x: keras.activations.sigmoid(tf.matmul(x, s.W) + s.b)),
    ("1 / (1 + exp(-z))", lambda s, x: 1 / (1 + tf.exp(-(tf.matmul(x, s.W) + s.b)))),
]:
    C.valid("1.4", label)(lambda fn=fn: dense_check(fn))


def test_kept_name_compares_with_the_layers_own_weights():
    layer = OurDenseLayer(3, lambda s, x: tf.math.sigmoid(tf.matmul(x, s.W)))  # no bias, still in (0, 1)
    layer.build((1, 2))
    with pytest.raises(AssertionError, match="ignores the bias"):
        lab1.test_custom_dense_layer_output(layer.call(X_INPUT), layer=layer, x=X_INPUT)


def test_kept_name_with_y_alone_judges_shape_and_range(capsys):
    """The 2020/21 notebooks call test_custom_dense_layer_output(y): with no layer to recompute from,
    only the shape and the sigmoid's range are judged, and the ✔ line says so; with layer= and x=
    the answer is recomputed from the layer's weights."""
    layer = OurDenseLayer(3, lambda s, x: tf.math.sigmoid(tf.matmul(x, s.W)))
    layer.build((1, 2))
    y = layer.call(X_INPUT)  # ignores the bias, and still lies in (0, 1)
    assert lab1.test_custom_dense_layer_output(y) is True
    assert "shape and range only" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="ignores the bias"):
        lab1.test_custom_dense_layer_output(y, layer=layer, x=X_INPUT)


# --- TODO 1.5: a Sequential model with one Dense(n_output_nodes)
N = 3


class NotSequential(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = L.Dense(N)

    def call(self, x):
        return self.dense(x)


def added():
    m = keras.Sequential()
    m.add(L.Dense(N))
    return m


for label, make, keys in [
    ("Dense(4)", lambda: keras.Sequential([L.Dense(4)]), ("n_output_nodes = 3",)),
    ("Dense(1)", lambda: keras.Sequential([L.Dense(1)]), ("n_output_nodes = 3",)),
    ("a bare Dense layer", lambda: L.Dense(N), ("single Dense layer", "Sequential")),
    ("an empty Sequential", lambda: keras.Sequential([]), ("no Dense layer",)),
    ("two Dense layers", lambda: keras.Sequential([L.Dense(N), L.Dense(N)]), ("exactly one Dense",)),
    ("Flatten only", lambda: keras.Sequential([L.Flatten()]), ("no Dense layer",)),
    ("a subclassed model", NotSequential, ("Sequential",)),
]:
    C.wrong("1.5", label, *keys)(lambda make=make: lab1.check_sequential_model(make(), N, X_INPUT))
for label, make in [
    ("a list of one Dense", lambda: keras.Sequential([L.Dense(N)])),
    ("model.add", added),
    ("with an Input and a sigmoid", lambda: keras.Sequential([keras.Input((2,)), L.Dense(N, activation="sigmoid")])),
    ("units= keyword", lambda: keras.Sequential([L.Dense(units=N)])),
]:
    C.valid("1.5", label)(lambda make=make: lab1.check_sequential_model(make(), N, X_INPUT))


# --- TODO 1.6: the subclassed model's dense layer
def subclass(make_layer, attribute="dense_layer"):
    class SubclassModel(keras.Model):
        def __init__(self, n_output_nodes):
            super().__init__()
            layer = make_layer(n_output_nodes)
            if attribute:
                setattr(self, attribute, layer)

        def call(self, inputs):
            return self.dense_layer(inputs)

    return SubclassModel


class two_dense_subclass(keras.Model):  # noqa: N801  (named like the other answers of this TODO)
    def __init__(self, n_output_nodes):
        super().__init__()
        self.hidden = L.Dense(16, activation="relu")
        self.dense_layer = L.Dense(n_output_nodes)

    def call(self, inputs):
        return self.dense_layer(self.hidden(inputs))


for label, cls, keys in [
    ("units hard-coded to 3", subclass(lambda n: L.Dense(3)), ("not a fixed number",)),
    ("Dense(1)", subclass(lambda n: L.Dense(1)), ("n_output_nodes",)),
    ("a local variable, not self.dense_layer", subclass(lambda n: L.Dense(n), attribute=None), ("self.dense_layer",)),
    ("another attribute name", subclass(lambda n: L.Dense(n), attribute="dense"), ("self.dense_layer",)),
    ("the class, not an instance", subclass(lambda n: L.Dense), ("an instance",)),
    ("Flatten instead of Dense", subclass(lambda n: L.Flatten()), ("Dense(n_output_nodes)",)),
    ("Dense(n + 1)", subclass(lambda n: L.Dense(n + 1)), ("n_output_nodes",)),
    ("two Dense layers in a Sequential", subclass(lambda n: keras.Sequential([L.Dense(8, activation="relu"), L.Dense(n)])),
     ("one dense layer", "2 Dense layers")),
    ("a second Dense layer beside dense_layer", two_dense_subclass, ("one dense layer", "2 Dense layers")),
]:
    C.wrong("1.6", label, *keys)(lambda cls=cls: lab1.check_subclass_model(cls(N), N, X_INPUT))
for label, cls in [
    ("Dense with sigmoid", subclass(lambda n: L.Dense(n, activation="sigmoid"))),
    ("units= keyword, no activation", subclass(lambda n: L.Dense(units=n))),
    ("tf.nn.sigmoid", subclass(lambda n: L.Dense(n, activation=tf.nn.sigmoid))),
]:
    C.valid("1.6", label)(lambda cls=cls: lab1.check_subclass_model(cls(N), N, X_INPUT))


# --- TODO 1.7: the identity switch
def identity_model(fn):
    class IdentityModel(keras.Model):
        def __init__(self, n_output_nodes):
            super().__init__()
            self.dense_layer = L.Dense(n_output_nodes, activation="sigmoid")

        def call(self, inputs, isidentity=False):
            return fn(self, inputs, isidentity)

    return IdentityModel(N)


def forgot_else(self, inputs, isidentity):
    if isidentity:
        return inputs


for label, fn, keys in [
    ("no switch", lambda s, x, i: s.dense_layer(x), ("unchanged",)),
    ("always the input", lambda s, x, i: x, ("apply the dense layer",)),
    ("inverted", lambda s, x, i: s.dense_layer(x) if i else x, ("inverted",)),
    ("no return on the False path", forgot_else, ("return",)),
    ("returns the notebook's x_input", lambda s, x, i: X_INPUT if i else s.dense_layer(x), ("x_input", "return inputs")),
    ("the sigmoid of the inputs, no dense layer", lambda s, x, i: x if i else tf.sigmoid(x), ("self.dense_layer(inputs)",)),
    ("returns the layer", lambda s, x, i: x if i else s.dense_layer, ("layer itself",)),
    ("compares with the string 'True'", lambda s, x, i: x if i == "True" else s.dense_layer(x), ("unchanged",)),
]:
    C.wrong("1.7", label, *keys)(lambda fn=fn: lab1.check_identity_model(identity_model(fn), X_INPUT))
for label, fn in [
    ("if / return", lambda s, x, i: x if i else s.dense_layer(x)),
    ("tf.identity", lambda s, x, i: tf.identity(x) if i else s.dense_layer(x)),
    ("`is True`", lambda s, x, i: x if i is True else s.dense_layer(x)),
]:
    C.valid("1.7", label)(lambda fn=fn: lab1.check_identity_model(identity_model(fn), X_INPUT))


# --- TODO 1.8: dy/dx of y = x * x with a GradientTape
def tape_answer(kind):
    x = tf.Variable(3.0)
    if kind == "outside":
        y = x * x
        with tf.GradientTape() as tape:
            pass
        return x, tape.gradient(y, x)
    with tf.GradientTape(persistent=kind == "persistent") as tape:
        y = {"plus": x + x, "cube": x**3, "linear": x * 1.0, "square": tf.square(x)}.get(kind, x * x)
    if kind == "reversed":
        return x, tape.gradient(x, y)
    if kind == "y":
        return x, y
    if kind == "x":
        return x, x
    if kind == "list":
        return x, tape.gradient(y, [x])
    if kind == "numpy":
        return x, tape.gradient(y, x).numpy()
    return x, tape.gradient(y, x)


for label, kind, keys in [
    ("y computed outside the tape", "outside", ("GradientTape", "tape.gradient(y, x)")),
    ("tape.gradient(x, y)", "reversed", ("tape.gradient(y, x)",)),
    ("dy_dx = y", "y", ("y itself",)),
    ("dy_dx = x", "x", ("x itself",)),
    ("y = x + x", "plus", ("x + x", "y = x * x")),
    ("y = x ** 3", "cube", ("x ** 3",)),
    ("y = x", "linear", ("y = x",)),
]:
    C.wrong("1.8", label, *keys)(lambda kind=kind: lab1.check_gradient(*tape_answer(kind)))
for label, kind in [("x * x", "ok"), ("tf.square", "square"), ("a list of one variable", "list"),
                    ("the NumPy value", "numpy"), ("a persistent tape", "persistent")]:
    C.valid("1.8", label)(lambda kind=kind: lab1.check_gradient(*tape_answer(kind)))


# --- TODO 1.9: gradient descent towards x_f, at the notebook's learning rate and at a student's smaller one
# (which leaves x short of x_f after the steps: still a correct loop)
X_F = 4.0
SGD_SETTINGS = {"learning_rate 0.05, 150 steps": (0.05, 150), "learning_rate 0.004, 100 steps": (0.004, 100)}


def sgd_history(loss_fn, apply, lr, steps):
    x = tf.Variable([0.3])
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    history = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_fn(x)
        grads = tape.gradient(loss, x)
        if apply == "ok":
            optimizer.apply_gradients([(grads, x)])
        elif apply == "copy":
            optimizer.apply_gradients([(grads, tf.Variable(x))])
        elif apply == "keras3":
            optimizer.apply([grads], [x])
        elif apply == "twice":
            optimizer.apply_gradients([(grads, x)])
            optimizer.apply_gradients([(grads, x)])
        history.append(x.numpy()[0])
    return history


for setting, (lr, steps) in SGD_SETTINGS.items():
    converges = lr * steps > 2
    for label, loss_fn, apply, keys in [
        ("(x + x_f)**2", lambda x: (x + X_F) ** 2, "ok", ("-x_f", "(x - x_f)**2")),
        ("never applied", lambda x: (x - X_F) ** 2, "none", ("never changed", "apply_gradients")),
        ("(x - 2 * x_f)**2", lambda x: (x - 2 * X_F) ** 2, "ok", ("settled at",) if converges else ("(x - x_f)**2",)),
        ("negated loss", lambda x: -((x - X_F) ** 2), "ok", ("away from x_f",)),
        ("not squared: x - x_f", lambda x: x - X_F, "ok", ("same step", "square")),
        ("not squared: x_f - x", lambda x: X_F - x, "ok", ("same step", "square")),
        ("x**2 - x_f**2", lambda x: x**2 - X_F**2, "ok", ("settled at", "(x - x_f)**2") if converges else ("(x - x_f)**2",)),
        ("half the loss, 0.5 * (x - x_f)**2", lambda x: 0.5 * (x - X_F) ** 2, "ok", ("learning rate of", "not scaled")),
        ("the gradient applied twice per iteration", lambda x: (x - X_F) ** 2, "twice", ("learning rate of",)),
    ]:
        C.wrong("1.9", f"{label} ({setting})", *keys)(
            lambda f=loss_fn, a=apply, lr=lr, steps=steps: lab1.check_sgd(sgd_history(f, a, lr, steps), X_F, lr))
    for label, loss_fn, apply in [
        ("(x - x_f)**2", lambda x: (x - X_F) ** 2, "ok"),
        ("tf.square(x_f - x)", lambda x: tf.square(X_F - x), "ok"),
        ("tf.reduce_mean and optimizer.apply", lambda x: tf.reduce_mean((x - X_F) ** 2), "keras3"),
    ]:
        C.valid("1.9", f"{label} ({setting})")(
            lambda f=loss_fn, a=apply, lr=lr, steps=steps: lab1.check_sgd(sgd_history(f, a, lr, steps), X_F, lr))


# ============================================================================ Part 2

TEXT = ("X:1\nT:The Kesh\nM:6/8\nK:G\nGAG GAB|ABA ABd|edd gdd|edB dBA|\n\n"
        "X:2\nT:Drowsy Maggie\nM:4/4\nK:D\nE2BE dEBE|E2BE AFDF|\n\n") * 12
VOCAB = sorted(set(TEXT))
CHAR2IDX = {c: i for i, c in enumerate(VOCAB)}
IDX2CHAR = np.array(VOCAB)
VECTORIZED = np.array([CHAR2IDX[c] for c in TEXT], dtype=np.int64)
V = len(VOCAB)

# --- TODO 2.1: vectorize_string(string, char2idx)
for label, f, keys in [
    ("a list", lambda s, t: [t[c] for c in s], ("NumPy array",)),
    ("floats", lambda s, t: np.array([t[c] for c in s], dtype=float), ("integer indices",)),
    ("a tf.Tensor", lambda s, t: tf.constant([t[c] for c in s]), ("not a tf.Tensor",)),
    ("the whole text instead of the argument", lambda s, t: np.array([t[c] for c in TEXT]), ("argument `string`",)),
    ("the characters themselves", lambda s, t: np.array(list(s)), ("characters", "char2idx")),
    ("one row per character", lambda s, t: np.array([[t[c]] for c in s]), ("1-d",)),
    ("indices one too large", lambda s, t: np.array([t[c] + 1 for c in s]), ("one too large",)),
    ("the set of characters", lambda s, t: np.array([t[c] for c in set(s)]), ("one index per character",)),
    ("the notebook's table instead of the argument", lambda s, t: np.array([CHAR2IDX[c] for c in s]), ("argument char2idx",)),
]:
    C.wrong("2.1", label, *keys)(lambda f=f: lab1.check_vectorize(f, CHAR2IDX, IDX2CHAR, TEXT))
for label, f in [
    ("np.array of a list comprehension, int64", lambda s, t: np.array([t[c] for c in s], dtype=np.int64)),
    ("np.fromiter", lambda s, t: np.fromiter((t[c] for c in s), dtype=np.int64, count=len(s))),
    ("map(char2idx.get), int32", lambda s, t: np.array(list(map(t.get, s)), dtype=np.int32)),
    ("sorted table, list.index", lambda s, t: np.array([sorted(t, key=t.get).index(c) for c in s])),
]:
    C.valid("2.1", label)(lambda f=f: lab1.check_vectorize(f, CHAR2IDX, IDX2CHAR, TEXT))


# --- TODO 2.2: get_batch
def batch_from(starts_fn, x_off=0, y_off=1, dtype=None, as_list=False, swap=False, only_x=False):
    def get_batch(vectorized_songs, seq_length, batch_size):
        n = vectorized_songs.shape[0] - 1
        idx = starts_fn(n, seq_length, batch_size)
        input_batch = np.stack([vectorized_songs[i + x_off: i + x_off + seq_length] for i in idx])
        output_batch = np.stack([vectorized_songs[i + y_off: i + y_off + seq_length] for i in idx])
        if dtype is not None:
            input_batch, output_batch = input_batch.astype(dtype), output_batch.astype(dtype)
        if as_list:
            input_batch, output_batch = input_batch.tolist(), output_batch.tolist()
        if swap:
            input_batch, output_batch = output_batch, input_batch
        return input_batch if only_x else (input_batch, output_batch)

    return get_batch


def choice(n, s, b):
    return np.random.choice(n - s, b)


def seeded(n, s, b):
    np.random.seed(0)
    return np.random.choice(n - s, b)


def appended(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    input_batch, output_batch = np.array([]), np.array([])
    for i in np.random.choice(n - seq_length, batch_size):
        input_batch = np.append(input_batch, vectorized_songs[i: i + seq_length])
        output_batch = np.append(output_batch, vectorized_songs[i + 1: i + seq_length + 1])
    return input_batch.reshape(batch_size, seq_length), output_batch.reshape(batch_size, seq_length)


def appended_list(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    xs, ys = [], []
    for _ in range(batch_size):
        i = np.random.randint(0, n - seq_length)
        xs.append(vectorized_songs[i: i + seq_length])
        ys.append(vectorized_songs[i + 1: i + seq_length + 1])
    return np.array(xs), np.array(ys)


def tensor_batch(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    return (tf.stack([vectorized_songs[i: i + seq_length] for i in idx]),
            tf.stack([vectorized_songs[i + 1: i + seq_length + 1] for i in idx]))


SEQ, BATCH = 20, 8
for label, f, keys in [
    ("floats", batch_from(choice, dtype=np.float32), ("did np.append",)),
    ("np.append into floats", appended, ("did np.append",)),
    ("lists", batch_from(choice, as_list=True), ("expected a NumPy array",)),
    ("only the inputs returned", batch_from(choice, only_x=True), ("two arrays",)),
    ("the target equals the input", batch_from(choice, y_off=0), ("one character later",)),
    ("input and target swapped", batch_from(choice, swap=True), ("swapped",)),
    ("the target two ahead", batch_from(choice, y_off=2), ("two characters ahead",)),
    ("one start copied across the batch", batch_from(lambda n, s, b: [np.random.randint(n - s)] * b), ("same window", "one per row")),
    ("reseeded inside get_batch", batch_from(seeded), ("same windows", "reseed")),
    ("consecutive starts 0 … batch_size - 1", batch_from(lambda n, s, b: np.arange(b)), ("same windows",)),
    ("starts up to n (windows run off the end)", batch_from(lambda n, s, b: np.random.choice(n, b)), ("n - seq_length",)),
]:
    C.wrong("2.2", label, *keys)(lambda f=f: lab1.check_batch(f, VECTORIZED, SEQ, BATCH))
for label, f in [
    ("np.random.choice", batch_from(choice)),
    ("np.random.randint and a list", appended_list),
    ("a Generator, without replacement", batch_from(lambda n, s, b: np.random.default_rng().choice(n - s, b, replace=False))),
    ("tf tensors (tf.stack of the windows)", tensor_batch),
    ("int32 windows", batch_from(choice, dtype=np.int32)),
]:
    C.valid("2.2", label)(lambda f=f: lab1.check_batch(f, VECTORIZED, SEQ, BATCH))
    C.valid("2.2", f"{label} (seq_length 50, batch_size 3)")(lambda f=f: lab1.check_batch(f, VECTORIZED, 50, 3))


# --- TODO 2.3: build_model
EMB, UNITS = 8, 16
X_BATCH = VECTORIZED[: 4 * 10].reshape(4, 10)


def seq(*layers, with_input=True):
    return keras.Sequential(([keras.Input(shape=(None,), dtype="int32")] if with_input else []) + list(layers))


def added_model():
    m = keras.Sequential()
    m.add(L.Embedding(V, EMB))
    m.add(L.LSTM(UNITS, return_sequences=True))
    m.add(L.Dense(V))
    return m


for label, make, keys in [
    ("no return_sequences", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS), L.Dense(V)), ("return_sequences=True",)),
    ("softmax on the last Dense", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V, activation="softmax")), ("remove the softmax", "logits")),
    ("a Softmax layer at the end", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V), L.Softmax()), ("remove the softmax",)),
    ("relu on the last Dense", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V, activation="relu")), ("no activation",)),
    ("half the LSTM units", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS // 2, return_sequences=True), L.Dense(V)), ("rnn_units",)),
    ("Embedding arguments swapped", lambda: seq(L.Embedding(EMB, V), L.LSTM(UNITS, return_sequences=True), L.Dense(V)), ("swapped",)),
    ("a GRU", lambda: seq(L.Embedding(V, EMB), L.GRU(UNITS, return_sequences=True), L.Dense(V)), ("LSTM",)),
    ("no Embedding", lambda: seq(L.LSTM(UNITS, return_sequences=True), L.Dense(V), with_input=False), ("Embedding(vocab_size, embedding_dim)",)),
    ("Dense(embedding_dim) last", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(EMB)), ("Dense(vocab_size)",)),
]:
    C.wrong("2.3", label, *keys)(lambda make=make: lab1.check_model(make(), V, EMB, UNITS, X_BATCH))
for label, make in [
    ("with an Input", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V))),
    ("no Input layer", lambda: seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V), with_input=False)),
    ("model.add, keyword arguments", added_model),
    ("activation='linear' and None spelled out", lambda: seq(L.Embedding(input_dim=V, output_dim=EMB), L.LSTM(units=UNITS, return_sequences=True, activation="tanh"), L.Dense(V, activation="linear"))),
]:
    C.valid("2.3", label)(lambda make=make: lab1.check_model(make(), V, EMB, UNITS, X_BATCH))

# --- TODO 2.4: compute_loss
SCCE = keras.losses.sparse_categorical_crossentropy
Y_BATCH = VECTORIZED[1: 4 * 10 + 1].reshape(4, 10)
LOSS_MODEL = seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V))
for label, f, keys in [
    ("no from_logits", lambda y, z: tf.reduce_mean(SCCE(y, z)), ("from_logits=True",)),
    ("softmax first", lambda y, z: tf.reduce_mean(SCCE(y, tf.nn.softmax(z), from_logits=True)), ("without tf.nn.softmax",)),
    ("arguments swapped", lambda y, z: tf.reduce_mean(SCCE(z, y, from_logits=True)), ("labels first",)),
    ("categorical instead of sparse", lambda y, z: tf.reduce_mean(keras.losses.categorical_crossentropy(y, z, from_logits=True)), ("sparse",)),
    ("negated", lambda y, z: -tf.reduce_mean(SCCE(y, z, from_logits=True)), ("wrong sign",)),
    ("summed", lambda y, z: tf.reduce_sum(SCCE(y, z, from_logits=True)), ("not the sum",)),
    ("binary cross-entropy", lambda y, z: tf.reduce_mean(keras.losses.binary_crossentropy(tf.cast(y, tf.float32), z, from_logits=True)), ("sparse_categorical_crossentropy(labels, logits",)),
]:
    C.wrong("2.4", label, *keys)(lambda f=f: lab1.check_loss(f, LOSS_MODEL, X_BATCH, Y_BATCH, V))
for label, f in [
    ("the function", lambda y, z: tf.reduce_mean(SCCE(y, z, from_logits=True))),
    ("the loss object", lambda y, z: keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, z)),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", lambda y, z: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z))),
]:
    C.valid("2.4", label)(lambda f=f: lab1.check_loss(f, LOSS_MODEL, X_BATCH, Y_BATCH, V))


# --- TODO 2.5: train_step
def compute_loss(labels, logits):
    return tf.reduce_mean(SCCE(labels, logits, from_logits=True))


def step_check(kind, learning_rate=1e-2, compiled=False):
    keras.utils.set_random_seed(1)
    model = seq(L.Embedding(V, EMB), L.LSTM(UNITS, return_sequences=True), L.Dense(V))
    optimizer = keras.optimizers.Adam(learning_rate)

    def train_step(x, y):
        if kind == "outside":
            loss = compute_loss(y, model(x))
            with tf.GradientTape() as tape:
                pass
        else:
            with tf.GradientTape() as tape:
                y_hat = model(x, training=True) if kind != "no_training_flag" else model(x)
                loss = compute_loss(y_hat, y) if kind == "args" else compute_loss(y, y_hat)
                if kind == "negated":
                    loss = -loss
        variables = {"some": model.trainable_variables[:3], "dense": model.layers[-1].trainable_variables,
                     "weights": model.trainable_weights}.get(kind, model.trainable_variables)
        target = y_hat if kind == "predictions" else loss
        grads = tape.gradient(target, variables)
        if kind == "apply":
            optimizer.apply(grads, variables)
        elif kind == "zip":
            optimizer.apply_gradients(zip(variables, grads))
        elif kind != "none":
            optimizer.apply_gradients(zip(grads, variables))
        return loss

    return lab1.check_train_step(tf.function(train_step) if compiled else train_step, model, optimizer, X_BATCH, Y_BATCH)


for label, kind, keys in [
    ("negated loss", "negated", ("negated", "no minus sign")),
    ("gradients of the first 3 variables only", "some", ("did not change", "all of model.trainable_variables")),
    ("gradients of the Dense layer only", "dense", ("did not change", "all of model.trainable_variables")),
    ("no apply_gradients", "none", ("weights did not change", "apply_gradients")),
    ("loss computed outside the tape", "outside", ("under a GradientTape",)),
    ("gradients of the predictions", "predictions", ("did not fall", "predictions")),
    ("zip(variables, grads)", "zip", ("gradients first",)),
    ("compute_loss(y_hat, y)", "args", ("labels first",)),
]:
    C.wrong("2.5", label, *keys)(lambda kind=kind: step_check(kind))
for label, kind in [("the solution", "ok"), ("model(x) without training=True", "no_training_flag"),
                    ("optimizer.apply", "apply"), ("model.trainable_weights", "weights")]:
    C.valid("2.5", label)(lambda kind=kind: step_check(kind))
# at a student's learning rate of 2 Adam's first steps overshoot the batch's loss (3.4 -> 7.5): the step is still right
C.valid("2.5", "the solution at learning_rate 2, the loss overshoots")(lambda: step_check("ok", 2.0))
# compiled, the failing step leaves Adam's moments half built: the check must still restore and give the hint
C.wrong("2.5", "loss computed outside the tape, in a tf.function", "under a GradientTape")(
    lambda: step_check("outside", compiled=True))
C.wrong("2.5", "negated loss at learning_rate 2", "negated")(lambda: step_check("negated", 2.0))
C.wrong("2.5", "gradients of the predictions at learning_rate 2", "predictions")(lambda: step_check("predictions", 2.0))


# --- TODO 2.6: sample_next
def per_row_numpy(logits, temperature):
    p = tf.nn.softmax(logits / temperature).numpy().astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)
    return np.array([np.random.choice(len(row), p=row) for row in p])


for label, f, keys in [
    ("no squeeze", lambda z, t: tf.random.categorical(z / t, 1), ("tf.squeeze(samples, axis=-1)",)),
    ("argmax", lambda z, t: tf.argmax(z / t, axis=-1), ("tf.random.categorical", "not argmax")),
    ("no temperature", lambda z, t: tf.squeeze(tf.random.categorical(z, 1), -1), ("no effect", "divide")),
    ("times the temperature", lambda z, t: tf.squeeze(tf.random.categorical(z * t, 1), -1), ("multiplied", "divide")),
    ("softmax before categorical", lambda z, t: tf.squeeze(tf.random.categorical(tf.nn.softmax(z / t), 1), -1), ("takes logits", "without tf.nn.softmax")),
    ("softmax, then divided", lambda z, t: tf.squeeze(tf.random.categorical(tf.nn.softmax(z) / t, 1), -1), ("takes logits",)),
    ("cast to float", lambda z, t: tf.cast(tf.squeeze(tf.random.categorical(z / t, 1), -1), tf.float32), ("integer",)),
    ("the first row's sample only", lambda z, t: tf.random.categorical(z / t, 1)[0], ("one index per row",)),
]:
    C.wrong("2.6", label, *keys)(lambda f=f: lab1.check_sampling(f, V))
for label, f in [
    ("the solution", lambda z, t: tf.squeeze(tf.random.categorical(z / t, num_samples=1), axis=-1)),
    ("log-softmax logits, [:, 0]", lambda z, t: tf.random.categorical(tf.nn.log_softmax(z / t), 1)[:, 0]),
    ("NumPy, one draw per row", per_row_numpy),
    ("tf.squeeze without an axis", lambda z, t: tf.squeeze(tf.random.categorical(z / t, 1))),
]:
    C.valid("2.6", label)(lambda f=f: lab1.check_sampling(f, V))


@pytest.mark.parametrize("entry", C.params())
def test_catalogue(entry):
    C.check(entry)


def test_catalogue_summary(capsys):
    line = C.summary()
    with capsys.disabled():
        print("\n" + line)
