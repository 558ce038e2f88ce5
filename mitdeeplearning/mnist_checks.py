"""The checks of lab 2, part 1 (MNIST): the two models, compiling, accuracy, predictions, the train step.

Each ``check_*`` prints one ✔ line or raises ``AssertionError`` with a hint (see
:mod:`mitdeeplearning.checks`). Models are judged by their layer configuration and parameter count,
whatever spelling of an activation the student chose; accuracies are recomputed on the test set.
TensorFlow is imported by the checks that need it.
"""

import math

import numpy as np

from .checks import activation_name, attempt, check, require, require_descent, run_train_steps

__all__ = ["check_fc_model", "check_cnn_model", "check_compiled", "check_accuracy", "check_fit_history", "check_predictions",
           "check_train_step", "FC_PARAMS", "CNN_PARAMS"]


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
def check_fit_history(history, epochs):
    """``history`` is what ``fit`` returned: a Keras History with the mean training loss of each of ``epochs`` epochs."""
    require(history is not None, "cnn_history is None: keep what fit returns, cnn_history = cnn_model.fit(...)")
    record = getattr(history, "history", None)
    require(isinstance(record, dict), f"cnn_history should be the History that fit returns, got a "
            f"{type(history).__name__}: cnn_history = cnn_model.fit(...) (evaluate's result goes to test_loss, test_acc)")
    losses = record.get("loss") or []
    require(losses, "cnn_history records no training loss: it is not fit's History (after evaluate, model.history "
            "may be evaluate's own); keep what fit returns, cnn_history = cnn_model.fit(...)")
    require(len(losses) == epochs, f"cnn_history records {len(losses)} epochs; train for cnn_epochs = {epochs} in one "
            f"fit: cnn_history = cnn_model.fit(..., epochs=cnn_epochs)")
    return f"fit's History: the training loss of {epochs} epochs, {losses[0]:.3f} to {losses[-1]:.3f}"


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
    fix = ("inside the tf.GradientTape: predictions = model(images, training=True) and loss = "
           "tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predictions)) (labels first; "
           "the model outputs probabilities, so no from_logits); then grads = tape.gradient(loss, "
           "model.trainable_variables)")
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
