"""Lab 2: computer vision — MNIST classifiers (part 1) and debiasing face detection (part 2).

Kept names from the 2020/21 course notebooks: :class:`TrainingDatasetLoader`,
:func:`get_test_faces`, :func:`plot_image_prediction`, :func:`plot_value_prediction`
(``mdl.util.plot_sample`` lives in :mod:`mitdeeplearning.util`). New: :func:`load_mnist`,
:func:`synthetic_faces_path`, :func:`make_synthetic_faces`, :func:`load_test_set` and the
``check_*`` functions that follow each TODO.

TensorFlow is imported only by the functions that need it, so ``mdl.lab2.load_mnist`` and the
face data work without it.
"""

import math
from itertools import product

import numpy as np

from .checks import activation_name, attempt, check, require, require_descent, run_train_steps
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
    "check_resampling_loop",
    "check_dbvae_training",
]


def __getattr__(name):
    # the given part-2 pieces (architectures, oracle, evaluation) import TensorFlow: load them only when asked for
    if name in {"make_standard_classifier", "make_face_decoder", "evaluate_groups", "effective_sample_size",
                "oracle_probabilities", "predict_logits", "load_seed_spread", "place_among_seeds", "plot_seed_spread"}:
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
    fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
    for k, name in enumerate(names):
        ax.bar(np.arange(len(groups)) + k * width, 100 * np.asarray(results[name]), width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups)
    ax.set_ylabel("face recall (%)")
    ax.set_ylim(0, 100)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)  # beside the axes: it covers no bar
    return fig


# ============================================================================ checks, part 1


def _softmax_rows(model, shape):
    import tensorflow as tf

    x = tf.random.uniform((4,) + tuple(shape), seed=1)
    return np.asarray(model(x, training=False))


def _layer_summary(model):
    """Each layer as a dict, activation layers (ReLU(), Softmax(), Activation(...)) folded into the layer before."""
    out = []
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind in ("Activation", "ReLU", "Softmax"):
            act = activation_name(layer)
            if out and out[-1].get("act", "") is None:
                out[-1]["act"] = act
            else:
                out.append({"kind": "Activation", "act": act})
            continue
        entry = {"kind": {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D"}.get(kind, kind)}
        if kind == "Dense":
            entry.update(units=layer.units, act=activation_name(layer.activation))
        elif kind == "Conv2D":
            entry.update(filters=layer.filters, kernel=tuple(layer.kernel_size), strides=tuple(layer.strides),
                         padding=layer.padding, act=activation_name(layer.activation))
        elif "Pooling" in entry["kind"]:
            entry.update(pool=tuple(layer.pool_size), strides=tuple(layer.strides), padding=layer.padding)
        out.append(entry)
    return out


def _describe(summary):
    parts = []
    for e in summary:
        if e["kind"] == "Dense":
            parts.append(f"Dense({e['units']}, {e['act']})")
        elif e["kind"] == "Conv2D":
            parts.append(f"Conv2D({e['filters']}, {e['kernel'][0]}×{e['kernel'][1]}, {e['act']})")
        elif e["kind"] == "Activation":
            parts.append(f"Activation({e['act']})")
        else:
            parts.append(e["kind"])
    return " → ".join(parts)


def _require_dense(entry, units, act, role):
    spelled = f"Dense({units}, activation={act!r})"
    require(entry["units"] == units, f"the {role} layer has {entry['units']} units; it needs {units}: {spelled}")
    if entry["act"] != act:
        if act == "softmax":
            require(False, f"the {role} layer should use a softmax, so each row holds probabilities over the 10 digits "
                    f"(got {entry['act']!r}): {spelled}")
        require(False, f"the {role} layer should use ReLU (got {entry['act']!r}): {spelled}")


def _require_probabilities(model):
    out = _softmax_rows(model, (28, 28, 1))
    require(out.shape == (4, 10), f"a batch of 4 images should give shape (4, 10), got {out.shape}")
    require(np.allclose(out.sum(axis=1), 1.0, atol=1e-4), f"rows should sum to 1 (softmax), got sums {out.sum(axis=1)}")


FC_PARAMS = 784 * 128 + 128 + 128 * 10 + 10


@check
def check_fc_model(model):
    """Flatten → Dense(128, ReLU) → Dense(10, softmax), any spelling of the activations; 101,770 parameters."""
    summary = _layer_summary(model)
    got = _describe(summary)
    require(summary[:1] and summary[0]["kind"] == "Flatten", f"the model should start with Flatten (28×28×1 → 784), got {got}")
    rest = summary[1:]
    others = [e["kind"] for e in rest if e["kind"] != "Dense"]
    require(not others, f"after Flatten the model holds only the two Dense layers, got {got}")
    dense = [e for e in rest if e["kind"] == "Dense"]
    require(len(dense) >= 2, f"expected two Dense layers after Flatten, the hidden Dense(128, activation='relu') and the "
            f"output Dense(10, activation='softmax'); got {got}")
    require(len(dense) == 2, f"expected exactly two Dense layers (hidden + output), got {len(dense)}: {got}")
    if dense[0]["units"] == 10 and dense[1]["units"] == 128:
        require(False, f"the layers are in the wrong order ({got}): the hidden Dense(128, relu) first, then the output Dense(10, softmax)")
    _require_dense(dense[0], 128, "relu", "hidden")
    _require_dense(dense[1], 10, "softmax", "output")
    n = int(model.count_params())
    require(n == FC_PARAMS, f"the model has {n:,} parameters, Flatten → Dense(128) → Dense(10) on 28×28 images has {FC_PARAMS:,}")
    _require_probabilities(model)
    return f"fully connected model: {got}, {n:,} parameters, rows sum to 1"


CNN_PARAMS = (3 * 3 * 1 * 24 + 24) + (3 * 3 * 24 * 36 + 36) + (5 * 5 * 36 * 128 + 128) + (128 * 10 + 10)


@check
def check_cnn_model(model):
    """Conv2D(24, 3×3, ReLU) → MaxPool(2×2) → Conv2D(36, 3×3, ReLU) → MaxPool(2×2) → Flatten → Dense(128, ReLU) → Dense(10, softmax)."""
    summary = _layer_summary(model)
    got = _describe(summary)
    kinds = [e["kind"] for e in summary]
    expected = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    if kinds != expected:
        require("AveragePooling2D" not in kinds, f"use max pooling, keras.layers.MaxPool2D(pool_size=(2, 2)), not average pooling: {got}")
        require(kinds.count("MaxPooling2D") >= 2, f"add MaxPool2D(pool_size=(2, 2)) after each convolution; got {got}")
        require("Flatten" in kinds, f"add Flatten() between the last pooling layer and the Dense layers; got {got}")
        require(kinds.count("Conv2D") == 2, f"expected two Conv2D layers, got {kinds.count('Conv2D')}: {got}")
        require(False, f"expected layers {' → '.join(expected)}, got {got}")
    convs = [e for e in summary if e["kind"] == "Conv2D"]
    filters = [c["filters"] for c in convs]
    if filters == [36, 24]:
        require(False, "the filter counts are swapped: 24 filters in the first convolution, 36 in the second")
    require(filters == [24, 36], f"the two convolutions should have 24 and 36 filters, got {filters}")
    kernels = [c["kernel"] for c in convs]
    require(kernels == [(3, 3), (3, 3)], f"both kernels should be 3×3 (kernel_size=(3, 3)), got {kernels}")
    require(all(c["strides"] == (1, 1) for c in convs), f"the convolutions use stride 1 (the default; pooling does the "
            f"down-sampling), got strides {[c['strides'] for c in convs]}")
    require(all(c["padding"] == "valid" for c in convs), f"the convolutions use padding='valid' (the default: 28 → 26 → 13 → "
            f"11 → 5), got {[c['padding'] for c in convs]}")
    for i, c in enumerate(convs):
        require(c["act"] == "relu", f"convolution {i + 1} needs a ReLU (activation='relu'), got {c['act']!r}")
    pools = [e for e in summary if e["kind"] == "MaxPooling2D"]
    require(all(p["pool"] == (2, 2) and p["strides"] == (2, 2) for p in pools),
            f"both pooling layers are MaxPool2D(pool_size=(2, 2)), got pool sizes {[p['pool'] for p in pools]} and strides {[p['strides'] for p in pools]}")
    dense = [e for e in summary if e["kind"] == "Dense"]
    _require_dense(dense[0], 128, "relu", "hidden Dense")
    _require_dense(dense[1], 10, "softmax", "output")
    n = int(model.count_params())
    require(n == CNN_PARAMS, f"the model has {n:,} parameters; the CNN of the text on 28×28×1 images has {CNN_PARAMS:,}")
    _require_probabilities(model)
    return f"CNN {got}, {n:,} parameters, softmax output"


def _name_of(obj):
    """A string's own name, a function's name, or ``class:<name>`` for an object (so the class
    ``Accuracy`` is not mistaken for the string ``"accuracy"``)."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj.lower()
    if isinstance(obj, dict):  # a serialised Keras object
        return "class:" + str(obj.get("class_name", "")).lower()
    if hasattr(obj, "__name__"):
        return obj.__name__.lower()
    return "class:" + type(obj).__name__.lower()


_ACCURACY_NAMES = {"accuracy", "acc", "sparse_categorical_accuracy", "class:sparsecategoricalaccuracy"}


@check
def check_compiled(model, optimizer="Adam", learning_rate=None, lr_name="cnn_learning_rate"):
    """Compiled with ``optimizer`` at ``learning_rate``, sparse categorical cross-entropy on probabilities, and accuracy."""
    opt = getattr(model, "optimizer", None)
    fix_opt = f"optimizer=keras.optimizers.{optimizer}(learning_rate={lr_name})"
    require(opt is not None and getattr(model, "compiled", True), "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) first")
    got_opt = type(opt).__name__
    require(got_opt.lower() == optimizer.lower(), f"compiled with {got_opt}; the text asks for {optimizer}: {fix_opt}")
    lr = float(np.asarray(opt.learning_rate))
    if learning_rate is not None and not np.isclose(lr, learning_rate, rtol=1e-5, atol=0):
        if np.isclose(lr, 1e-3) and not np.isclose(learning_rate, 1e-3):
            require(False, f"the optimizer runs at Keras' default rate 0.001 (optimizer='{optimizer.lower()}' takes no rate); "
                    f"pass {lr_name} = {learning_rate:g}: {fix_opt}")
        require(False, f"the learning rate is {lr:g}, expected {lr_name} = {learning_rate:g}: {fix_opt}")
    loss = getattr(model, "loss", None)
    name = _name_of(loss) or ""
    flat = name.replace("_", "")
    require(loss is not None, "compile with loss='sparse_categorical_crossentropy'")
    if "sparsecategoricalcrossentropy" not in flat:
        if "categoricalcrossentropy" in flat:
            require(False, f"labels are integers 0–9, so use loss='sparse_categorical_crossentropy' (got {name!r}); "
                    f"'categorical_crossentropy' would need one-hot labels")
        require(False, f"this is a 10-class problem with integer labels: loss='sparse_categorical_crossentropy' (got {name!r})")
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    require(not config.get("from_logits", False), "the model ends with a softmax, so it outputs probabilities: keep "
            "from_logits=False (the default) in SparseCategoricalCrossentropy")
    metrics = (model.get_compile_config() or {}).get("metrics") if hasattr(model, "get_compile_config") else None
    metrics = metrics if isinstance(metrics, (list, tuple)) else ([] if metrics is None else [metrics])
    names = [_name_of(m) for m in metrics]
    require(names, "add metrics=['accuracy'] to compile: without it model.evaluate returns the loss alone and "
            "`test_loss, test_acc = ...` fails")
    if not any(n in _ACCURACY_NAMES for n in names):
        if "accuracy" in " ".join(names):
            require(False, f"metrics {names}: for integer labels and probability rows use metrics=['accuracy'] (or "
                    f"SparseCategoricalAccuracy()); keras.metrics.Accuracy and 'categorical_accuracy' compare the wrong things")
        require(False, f"the metric should be the accuracy: metrics=['accuracy'], got {names}")
    return f"compiled with {got_opt} (learning rate {lr:g}), {name} and accuracy"


def _accuracy_value(test_acc):
    require(test_acc is not None, "test_acc is None: keep the accuracy from model.evaluate, test_loss, test_acc = model.evaluate(...)")
    if isinstance(test_acc, dict):
        require(False, "test_acc is a dict (return_dict=True): take its 'accuracy' entry")
    arr = np.asarray(test_acc, dtype=np.float64)
    require(arr.size == 1, f"test_acc should be one number, got {arr.size} ({arr.reshape(-1)[:3]}): model.evaluate returns "
            f"[loss, accuracy], so unpack it: test_loss, test_acc = model.evaluate(test_images, test_labels)")
    return float(arr.reshape(-1)[0])


def _last_fit(model, epochs, want):
    """``(epochs, steps per epoch)`` of the model's ``fit``; ``(0, None)`` for an untrained model.

    Keras records both in ``model.history``, but before Keras 3.9 ``evaluate`` replaces
    ``model.history`` with a History of its own (Colab's 2025.07 runtime has Keras 3.8). What fit
    did then survives in the optimizer's step counter: epochs × steps per epoch, summed over fits
    (a cell run twice fits twice). A count that is a multiple of ``epochs * want`` is read as the
    expected fit; any other count is read as one fit, which is what the hints describe.
    """
    history = getattr(model, "history", None)
    counter = getattr(getattr(model, "optimizer", None), "iterations", None)
    iterations = 0 if counter is None else int(np.asarray(counter))
    ran = len(getattr(history, "epoch", None) or [])
    if ran:  # model.history is fit's own record
        return ran, (getattr(history, "params", None) or {}).get("steps")
    if not iterations:
        return 0, None
    if want is None:
        return epochs, None
    if iterations % (epochs * want) == 0:
        return epochs, want
    if iterations % want == 0:
        return iterations // want, want
    return epochs, round(iterations / epochs)


@check
def check_accuracy(test_acc, model=None, test_images=None, test_labels=None, chance=0.1,
                   epochs=None, batch_size=None, n_train=None):
    """A held-out accuracy: with ``model`` and the test set, the check recomputes it and compares.

    With ``epochs``, ``batch_size`` and ``n_train`` it also reads the model's last ``fit`` (epochs
    and steps per epoch), so training on the wrong data or with the wrong settings is caught.
    """
    acc = _accuracy_value(test_acc)
    if epochs is not None:
        want = math.ceil(n_train / batch_size) if n_train is not None and batch_size is not None else None
        ran, steps = _last_fit(model, epochs, want)
        require(ran, "the model has not been trained: call model.fit(train_images, train_labels, batch_size=batch_size, epochs=cnn_epochs)")
        require(ran == epochs, f"fit ran for {ran} epochs; train for cnn_epochs = {epochs}: epochs=cnn_epochs")
        if want is not None:
            if steps != want:
                if test_images is not None and steps == math.ceil(len(test_images) / batch_size):
                    require(False, "fit ran on the test images: train on train_images and train_labels, keep the test set for evaluate")
                if steps == math.ceil(n_train / 32):
                    require(False, f"fit used Keras' default batch size 32; pass batch_size=batch_size ({batch_size})")
                require(False, f"fit ran {steps} steps per epoch; {n_train} training images in batches of batch_size = {batch_size} "
                        f"take {want}: model.fit(train_images, train_labels, batch_size=batch_size, epochs=...)")
    if model is not None and test_images is not None and test_labels is not None:
        import tensorflow as tf

        probs = np.asarray(model.predict(test_images, batch_size=1024, verbose=0), dtype=np.float64)
        labels = np.asarray(test_labels).reshape(-1)
        real = float(np.mean(np.argmax(probs, axis=1) == labels))
        if abs(acc - real) > 1.5 / len(labels):
            loss = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, probs)))
            if math.isclose(acc, loss, rel_tol=1e-3, abs_tol=1e-4):
                require(False, f"test_acc holds the loss ({acc:.4f}): model.evaluate returns [loss, accuracy] in that "
                        f"order, so test_loss, test_acc = model.evaluate(test_images, test_labels)")
            if np.isclose(acc, 100 * real, atol=0.2):
                require(False, f"test_acc should be a fraction in [0, 1], not a percentage ({acc:.2f})")
            logged = getattr(getattr(model, "history", None), "history", None) or {}
            fit_acc = logged.get("accuracy") or logged.get("acc") or logged.get("sparse_categorical_accuracy") or []
            if fit_acc and math.isclose(acc, float(fit_acc[-1]), abs_tol=1e-6):
                require(False, f"test_acc ({acc:.4f}) is the training accuracy from fit's history; evaluate the model "
                        f"on the held-out test_images and test_labels")
            require(False, f"test_acc is {acc:.4f} but the model classifies {100 * real:.2f} % of the {len(labels)} test "
                    f"images correctly: evaluate on all of test_images and test_labels (not the training images)")
    require(0.0 <= acc <= 1.0, f"accuracy should be a fraction in [0, 1], got {acc}; did you pass the loss?")
    require(acc > 2 * chance, f"accuracy {acc:.3f} is near chance ({chance}); did fit() run on the training images and evaluate() on the test images?")
    return f"held-out accuracy {acc:.4f}" + (", recomputed on the test set" if model is not None else "")


@check
def check_predictions(predictions, predicted_labels, test_labels=None):
    """Predicted labels are the argmax of each row of probabilities, as integers."""
    predictions = np.asarray(predictions)
    require(predicted_labels is not None, "predicted_labels is None: predicted_labels = np.argmax(predictions, axis=1)")
    predicted_labels = np.asarray(predicted_labels)
    if predicted_labels.shape == predictions.shape:
        require(False, "predicted_labels has a value for every class; take the index of the largest one per row: "
                "np.argmax(predictions, axis=1)")
    require(predicted_labels.shape == predictions.shape[:1],
            f"expected one label per image, shape {predictions.shape[:1]}, got {predicted_labels.shape}; take argmax over axis=1 (the classes)")
    if not np.issubdtype(predicted_labels.dtype, np.integer):
        if np.allclose(predicted_labels, predictions.max(axis=1)):
            require(False, "these are the largest probabilities themselves (np.max); the label is their index: np.argmax(predictions, axis=1)")
        require(False, f"labels should be integers, got {predicted_labels.dtype}: np.argmax returns integer indices, no cast needed")
    if not np.array_equal(predicted_labels, np.argmax(predictions, axis=1)):
        if test_labels is not None and np.array_equal(predicted_labels, np.asarray(test_labels).reshape(-1)):
            require(False, "these are the true test labels; the predicted digit comes from the model: np.argmax(predictions, axis=1)")
        if np.array_equal(predicted_labels, np.argmin(predictions, axis=1)):
            require(False, "these are the least likely digits (argmin / the first of argsort); the prediction is np.argmax(predictions, axis=1)")
        require(False, "labels differ from np.argmax(predictions, axis=1); did you take the argmax over the right axis?")
    return f"{len(predicted_labels)} predicted labels agree with argmax"


def _plain_softmax(z):
    import tensorflow as tf

    # softmax written without TensorFlow's Softmax op, so that Keras cannot recognise its output and
    # quietly recover the logits when a loss is told from_logits=True
    return tf.exp(z - tf.reduce_logsumexp(z, axis=-1, keepdims=True))


def _require_probabilities_as_probabilities(train_step, model, optimizer, images, labels, fix):
    """Catch a loss that reads the model's softmax probabilities as logits (a softmax applied twice).

    On a fresh model both readings give about ln 10 (the outputs are near uniform), so for one probe
    step the check sharpens the output layer (its weights times 30) and computes its softmax in a
    form Keras does not recognise (Keras otherwise recovers the logits behind ``from_logits=True``
    on its own softmax output, with a warning). The step runs eagerly (the Python function behind a
    ``tf.function``, whose compiled graphs stay untouched); weights and optimizer are put back.
    """
    import tensorflow as tf

    last = model.layers[-1]
    if activation_name(getattr(last, "activation", None)) != "softmax" or not last.weights:
        return
    saved, activation = [w.numpy() for w in last.weights], last.activation
    try:
        for w in last.weights:
            w.assign(w.numpy() * 30.0)
        last.activation = _plain_softmax
        probs = model(images, training=False)
        as_probabilities = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, probs)))
        as_logits = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.int64), logits=probs)))
        eager_step = getattr(train_step, "python_function", train_step)
        values = run_train_steps(eager_step, model, optimizer, images, labels, 1, fix, from_logits=False)[2]
    finally:
        last.activation = activation
        for w, a in zip(last.weights, saved):
            w.assign(a)
    if math.isclose(values[0], as_logits, rel_tol=2e-3) and not math.isclose(values[0], as_probabilities, rel_tol=2e-3):
        require(False, f"the loss reads the model's outputs as logits, but its last layer is a softmax, so they are "
                f"probabilities already: use keras.losses.sparse_categorical_crossentropy(labels, predictions) and drop "
                f"from_logits=True (Keras warns and then recovers the logits of its own softmax; a softmax applied "
                f"twice flattens the gradients: on confident outputs the loss read {values[0]:.3f} instead of "
                f"{as_probabilities:.3f})")


@check
def check_train_step(train_step, images, labels, model=None, optimizer=None, steps=8):
    """With ``model``: the loss recomputed from the model's probabilities falls and every variable moves (weights restored)."""
    fix = ("inside the tf.GradientTape: predictions = loop_model(images, training=True) and loss = "
           "tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predictions)) (labels first; "
           "the model outputs probabilities, so no from_logits); then grads = tape.gradient(loss, "
           "loop_model.trainable_variables)")
    if model is None:
        losses = [float(np.asarray(attempt(train_step, images, labels, fix=fix))) for _ in range(steps)]
        require(np.all(np.isfinite(losses)), f"the loss became non-finite: {losses}")
        require(losses[-1] < losses[0], f"the loss did not go down over {steps} steps on one batch ({losses[0]:.3f} → {losses[-1]:.3f}); "
                f"did you apply the gradients of the loss with respect to model.trainable_variables?")
        return f"loss fell from {losses[0]:.3f} to {losses[-1]:.3f} in {steps} steps on one batch"
    import tensorflow as tf

    _require_probabilities_as_probabilities(train_step, model, optimizer, images, labels, fix)
    before, after, values, still, n_vars, slope = run_train_steps(train_step, model, optimizer, images, labels, steps, fix,
                                                                  from_logits=False)
    if math.isclose(values[0], -before, rel_tol=2e-3):
        require(False, f"the loss is negated ({values[0]:.4f}): descend the cross-entropy itself, no minus sign")
    if not math.isclose(values[0], before, rel_tol=2e-3, abs_tol=1e-4):
        probs = model(images, training=False)
        as_logits = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.int64), logits=probs)))
        if math.isclose(values[0], as_logits, rel_tol=2e-3):
            require(False, "the model's last layer is a softmax, so its outputs are probabilities: drop from_logits=True")
        if math.isclose(values[0], before * len(labels), rel_tol=2e-3):
            require(False, "the loss is the sum over the batch; take the mean, tf.reduce_mean(...)")
        require(False, f"train_step returned {values[0]:.4f}, but the mean sparse categorical cross-entropy of the model's "
                f"outputs is {before:.4f}: {fix}")
    require_descent(before, after, still, n_vars, steps, slope)
    trend = (f"fell from {before:.3f} to {after:.3f} in {steps} steps" if after < before else
             f"rose ({before:.3f} → {after:.3f}: the learning rate overshoots), though the steps went against its gradient")
    return f"the cross-entropy recomputed from the model {trend}; every variable moved"


# ============================================================================ checks, part 2


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

    ``debiasing_loss_function`` is called without ``kl_weight``, as the training step calls it, so
    it weighs the KL term with its default, the notebook's ``kl_weight``: pass that same value.
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
                      tf.constant(z_mean), tf.constant(z_logvar), fix=_DEBIAS_FIX)
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
def check_sample_probabilities(get_training_sample_probabilities, bins=10, smoothing_fac=0.001):
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


def _observe_loop(train_dbvae, debias, steps, warmup, every):
    import mitdeeplearning

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
        "loader": loader, "warmup_steps": warmup, "resample_every": every, "compile_steps": False, "batch_size": 4,
        "principal_projection": spy_proj, "get_training_sample_probabilities": spy_probs,
        "tqdm": lambda iterable, *a, **k: iterable,
        "mdl": _Proxy(real_mdl, util=_Proxy(real_mdl.util, PeriodicPlotter=_QuietPlotter)),
    }
    missing = object()
    saved = {name: g.get(name, missing) for name in overrides}
    g.update(overrides)
    try:
        out = attempt(train_dbvae, model, steps, debias=debias, fix="see the TODO's steps")
    finally:
        for name, value in saved.items():
            if value is missing:
                g.pop(name, None)
            else:
                g[name] = value
    return loader, model, calls, out


@check
def check_resampling_loop(train_dbvae, warmup=3, every=4, steps=13):
    """Runs ``train_dbvae`` on a stand-in loader and model and watches what it does.

    With ``warmup_steps`` and ``resample_every`` set to small values for the run, the check
    records each pass over the faces, what went into ``principal_projection`` and
    ``get_training_sample_probabilities``, and the ``p_pos`` of every batch: recomputation at
    step warmup_steps and every resample_every steps after it, over every face's μ, with the new
    probabilities used by the next batches; nothing of it with ``debias=False``.
    """
    loader, model, calls, out = _observe_loop(train_dbvae, True, steps, warmup, every)
    events = loader.events
    recompute, step = [], 0
    for kind, _ in events:
        if kind == "batch":
            step += 1
        else:
            recompute.append(step)
    want = list(range(warmup, steps, every))
    if recompute != want:
        require(recompute, "the probabilities were never recomputed: when debias is on, at step warmup_steps and every "
                "resample_every steps after it, go over loader.iter_train_faces() (use the parameters cell's "
                "warmup_steps and resample_every, not fixed numbers)")
        require(recompute[0] >= warmup, f"the probabilities were recomputed at step {recompute[0]}, during the warm-up: "
                f"start at step warmup_steps (an untrained encoder's latent means nothing)")
        require(recompute[0] == warmup, f"the first recomputation came at step {recompute[0]}; it belongs at step warmup_steps itself")
        require(len(recompute) < len(range(warmup, steps)), "the probabilities were recomputed at every step after the warm-up: "
                "only every resample_every steps, (step - warmup_steps) % resample_every == 0")
        require(False, f"with warmup_steps={warmup} and resample_every={every} the probabilities should be recomputed at "
                f"steps {want}, they were at {recompute}: step >= warmup_steps and (step - warmup_steps) % resample_every == 0")
    mu_all = np.concatenate([np.asarray(model.encode(loader.faces[i:i + 4])[1]) for i in range(0, len(loader.faces), 4)])
    require(len(calls["probs"]) == len(want), f"get_training_sample_probabilities was called {len(calls['probs'])} times for "
            f"{len(want)} recomputations: call it once per recomputation")
    require(len(calls["proj"]) == len(want), "pass mu through principal_projection(mu, density_components) before "
            "get_training_sample_probabilities")
    for (mu, _), (proj_in, proj_out) in zip(calls["probs"], calls["proj"]):
        require(proj_in.shape == mu_all.shape, f"mu should hold one row per training face, shape {mu_all.shape}, got "
                f"{proj_in.shape}: concatenate encode_mean(batch) over all batches of loader.iter_train_faces()")
        require(np.allclose(proj_in, mu_all, atol=1e-5), "mu should be the encoder's z_mean of every training face: "
                "np.concatenate([encode_mean(batch).numpy() for batch in loader.iter_train_faces()])")
        require(np.shape(mu) == np.shape(proj_out) and np.allclose(np.asarray(mu, dtype=np.float64), np.asarray(proj_out)),
                "give get_training_sample_probabilities the output of principal_projection(mu, density_components)")
    batches = [p for kind, p in events if kind == "batch"]
    current, rec_i = None, 0
    for s, p in enumerate(batches):
        while rec_i < len(want) and want[rec_i] == s:
            current = calls["probs"][rec_i][1]
            rec_i += 1
        if current is None:
            require(p is None, f"batch {s} (before the warm-up ended) was drawn with probabilities; draw uniformly until warmup_steps")
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
    loader2, _, _, out2 = _observe_loop(train_dbvae, False, steps, warmup, every)
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
