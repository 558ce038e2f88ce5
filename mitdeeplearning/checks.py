"""The machinery behind every ``mdl.labN.check_*`` function.

A check inspects a student's own objects and either prints one line starting with ✔ or raises
``AssertionError`` with a hint that says what was expected and what to look at. Write a check as::

    @check
    def check_matrix(matrix):
        require(rank_of(matrix) == 2, f"expected a 2-d tensor, got rank {rank_of(matrix)}")
        return "matrix is a 2-d tensor"

The decorator prints the returned message and returns ``None``, so a notebook cell shows the ✔
line and no stray ``True``. (The 2020/21 ``test_*`` names, which returned ``True``, are wrappers in
:mod:`mitdeeplearning.compat2021`.) Any other exception raised while inspecting the answer
(say, a student passed a list where a tensor was expected) becomes an ``AssertionError`` naming the
check and the original error, so students never face an unrelated traceback. ``NotImplementedError``
passes through unchanged: it means a TODO inside the student's code has not been written yet.
"""

import functools
import math

import numpy as np

__all__ = ["check", "require", "CheckFailed", "attempt", "activation_name", "run_train_steps", "require_descent",
           "to_numpy", "is_tensor"]


class CheckFailed(AssertionError):
    """Raised by a check when the answer is wrong; the message is the hint."""


def require(condition, hint):
    """Fail the running check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint)


def check(func):
    """Turn ``func`` into a course check: print ✔ on success, an ``AssertionError`` hint on failure."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            message = func(*args, **kwargs)
        except (AssertionError, NotImplementedError):  # a wrong answer, or a TODO not written yet
            raise
        except Exception as exc:  # a wrong type or shape breaks the inspection itself
            raise CheckFailed(
                f"{func.__name__} could not inspect your answer: {type(exc).__name__}: {exc}. "
                f"Check the type and shape of what you passed (see the TODO's instructions)."
            ) from exc
        print(f"✔ {message or func.__name__ + ' passed'}")

    wrapper.is_check = True
    return wrapper


def attempt(func, *args, fix, **kwargs):
    """Call the student's ``func``; if it raises, fail the check with ``fix`` and the error.

    Checks call the student's code through this, so a crash inside it reaches the student as a
    hint about what to change rather than as a traceback from deep inside TensorFlow.
    """
    try:
        return func(*args, **kwargs)
    except (AssertionError, NotImplementedError):
        raise
    except RecursionError as exc:
        raise CheckFailed(f"your code calls itself without end (RecursionError). {fix}") from exc
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckFailed(f"your code raised {type(exc).__name__}: {first[:300]}. {fix}") from exc


def to_numpy(value):
    """A NumPy array from a tensor, variable, array or number."""
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def is_tensor(value):
    """Whether ``value`` is a TensorFlow tensor or variable (a NumPy array is not)."""
    import tensorflow as tf

    return isinstance(value, (tf.Tensor, tf.Variable))


_ACTIVATION_ALIASES = {"softmax_v2": "softmax", "linear": None, "identity": None, "none": None}


def activation_name(obj):
    """A normalised name for an activation, however it was spelled.

    Accepts strings (``"relu"``), functions (``tf.nn.relu``, ``keras.activations.relu``, whose
    names may carry a ``_v2`` suffix), activation layers (``ReLU()``, ``Softmax()``,
    ``Activation("relu")``) and ``None``; returns ``"relu"``, ``"softmax"``, ... or ``None`` for
    no activation (linear).
    """
    if obj is None:
        return None
    if isinstance(obj, str):
        name = obj.lower()
    elif type(obj).__name__ == "Activation":
        return activation_name(obj.activation)
    elif type(obj).__name__ in ("ReLU", "Softmax", "ELU", "LeakyReLU", "PReLU"):
        name = {"ReLU": "relu", "Softmax": "softmax", "ELU": "elu", "LeakyReLU": "leaky_relu", "PReLU": "prelu"}[type(obj).__name__]
        if name == "relu":  # ReLU(max_value=..., negative_slope=...) is no longer a plain ReLU
            if getattr(obj, "max_value", None) is not None or float(getattr(obj, "negative_slope", 0) or 0) != 0:
                name = "relu_variant"
    else:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        name = name.lower()
    name = name.rsplit(".", 1)[-1]
    if name.endswith("_v2"):
        name = name[:-3]
    return _ACTIVATION_ALIASES.get(name, name)


def _snapshot_optimizer(optimizer):
    return {id(v): v.numpy() for v in optimizer.variables}


def _restore_optimizer(optimizer, saved):
    for v in optimizer.variables:
        # variables the optimizer created during the check (moments) start at zero in a fresh one
        # (a variable the optimizer began to build in a step that then failed may hold no value yet)
        v.assign(saved[id(v)] if id(v) in saved else np.zeros(tuple(v.shape), dtype=np.dtype(str(v.dtype))))


def _own_xent(model, x, y, from_logits):
    import tensorflow as tf

    out = model(x, training=False)
    return float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, out, from_logits=from_logits)))


def _own_gradients(model, x, y, from_logits, variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, model(x, training=False), from_logits=from_logits))
    return [None if g is None else tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]


def run_train_steps(train_step, model, optimizer, x, y, steps, fix, from_logits):
    """Run ``steps`` student train steps on one batch, observe them, and restore model and optimizer.

    Returns the cross-entropy before, the lowest after any step, the returned values, the names of
    the variables that did not move, the number of trainable variables, and the slope of the first
    step: Σ ⟨Δw, ∇loss⟩ over the variables, negative when the step went downhill however large it was.
    """
    saved = [w.numpy() for w in model.weights]
    saved_opt = _snapshot_optimizer(optimizer) if optimizer is not None else None
    trainable = list(model.trainable_variables)
    before_vars = [v.numpy() for v in trainable]
    try:
        before = _own_xent(model, x, y, from_logits)
        gradients = _own_gradients(model, x, y, from_logits, trainable)
        returned, trajectory, slope = [], [], None
        for _ in range(steps):
            returned.append(attempt(train_step, x, y, fix=fix))
            trajectory.append(_own_xent(model, x, y, from_logits))
            if slope is None:
                slope = float(sum(np.sum((v.numpy() - a) * g) for v, a, g in zip(trainable, before_vars, gradients)
                                  if g is not None))
        # the lowest loss after any of the steps: Adam's first steps on a wide LSTM at a large
        # learning rate may overshoot once (4.47 -> 4.31 -> 5.41 -> 4.68 for 512 units) and recover
        after = min(trajectory)
        still = [v.path if hasattr(v, "path") else v.name for v, a in zip(trainable, before_vars) if np.array_equal(a, v.numpy())]
    finally:
        for w, a in zip(model.weights, saved):
            w.assign(a)
        if optimizer is not None:
            _restore_optimizer(optimizer, saved_opt)
    values = []
    for r in returned:
        require(r is not None, "train_step returned None: return the loss")
        arr = np.asarray(r.numpy() if hasattr(r, "numpy") else r)
        require(arr.size == 1, f"train_step should return the mean loss, a single number; got an array of shape {arr.shape} "
                f"(take tf.reduce_mean of the per-example losses)")
        values.append(float(arr.reshape(-1)[0]))
    require(all(math.isfinite(v) for v in values), f"the loss is not finite: {values}")
    return before, after, values, still, len(trainable), slope


def require_descent(before, after, still, n_trainable, steps, slope=None):
    """Every trainable variable moved, and the steps went downhill on the loss the check recomputed:
    the loss fell, or the first step moved the weights against its gradient (``slope`` < 0), which
    holds at any learning rate (a large one may overshoot the batch's loss in the first steps)."""
    require(len(still) < n_trainable,
            "the weights did not change: take grads = tape.gradient(loss, model.trainable_variables) and apply them "
            "with optimizer.apply_gradients(zip(grads, model.trainable_variables))")
    require(not still, f"{len(still)} of {n_trainable} trainable variables did not change ({', '.join(still[:3])}"
            f"{', ...' if len(still) > 3 else ''}): take the gradients with respect to all of model.trainable_variables "
            f"and apply them to all of them")
    require(after < before or (slope is not None and slope < 0), f"the cross-entropy of the model's outputs, recomputed by the check, did not fall in {steps} "
            f"steps on one batch ({before:.4f} → lowest {after:.4f}): descend the loss itself — take tape.gradient(loss, ...) of the "
            f"cross-entropy, not of its negative or of the predictions")
