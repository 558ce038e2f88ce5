"""Mistake catalogue of lab 2: every TODO's check against realistic wrong answers and valid alternatives.

Answers are written as a student would write them from the notebook's text; each wrong one must be
rejected with a hint naming its fix, each valid one must pass. See tests/catalogue.py.
"""

import ast
import functools
import pathlib
import re

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from tqdm.auto import tqdm

import mitdeeplearning as mdl
from catalogue import Catalogue
from mdl_tools import notebook_code
from mitdeeplearning import lab2

C = Catalogue("lab 2")
L = keras.layers

# ============================================================================ Part 1: MNIST


def fc(*layers):
    return keras.Sequential([keras.Input((28, 28, 1)), L.Flatten(), *layers])


# --- TODO 1.1: the fully connected model's two Dense layers
for label, layers, keys in [
    ("64 hidden units", [L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")], ("needs 128",)),
    ("no hidden activation", [L.Dense(128), L.Dense(10, activation="softmax")], ("ReLU",)),
    ("sigmoid hidden layer", [L.Dense(128, activation="sigmoid"), L.Dense(10, activation="softmax")], ("ReLU",)),
    ("no softmax", [L.Dense(128, activation="relu"), L.Dense(10)], ("softmax",)),
    ("ReLU on the output", [L.Dense(128, activation="relu"), L.Dense(10, activation="relu")], ("softmax", "probabilities")),
    ("one output unit", [L.Dense(128, activation="relu"), L.Dense(1, activation="softmax")], ("needs 10",)),
    ("no hidden layer", [L.Dense(10, activation="softmax")], ("two Dense layers",)),
    ("layers in the wrong order", [L.Dense(10, activation="softmax"), L.Dense(128, activation="relu")], ("wrong order",)),
    ("activations swapped", [L.Dense(128, activation="softmax"), L.Dense(10, activation="relu")], ("ReLU",)),
]:
    C.wrong("1.1", label, *keys)(lambda layers=layers: lab2.check_fc_model(fc(*layers)))
for label, layers in [
    ("strings", [L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]),
    ("tf.nn functions", [L.Dense(128, activation=tf.nn.relu), L.Dense(10, activation=tf.nn.softmax)]),
    ("ReLU() and Softmax() layers", [L.Dense(128), L.ReLU(), L.Dense(10), L.Softmax()]),
    ("keras.activations and Activation layers", [L.Dense(128, activation=keras.activations.relu), L.Dense(10), L.Activation("softmax")]),
]:
    C.valid("1.1", label)(lambda layers=layers: lab2.check_fc_model(fc(*layers)))


@functools.lru_cache(maxsize=None)
def mnist():
    (xtr, ytr), (xte, yte) = mdl.lab2.load_mnist("subset", seed=0)
    return (xtr[:600], ytr[:600]), (xte[:400], yte[:400])


@functools.lru_cache(maxsize=None)
def trained_fc():
    keras.utils.set_random_seed(0)
    (xtr, ytr), _ = mnist()
    model = fc(L.Dense(128, activation="relu"), L.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr, ytr, batch_size=64, epochs=4, verbose=0)
    return model


# --- TODO 1.2: evaluate on the test set
def evaluated(kind):
    model = trained_fc()
    (xtr, ytr), (xte, yte) = mnist()
    if kind == "swapped":
        test_acc, _ = model.evaluate(xte, yte, verbose=0)
    elif kind == "train":
        _, test_acc = model.evaluate(xtr, ytr, verbose=0)
    elif kind == "list":
        test_acc = model.evaluate(xte, yte, verbose=0)
    elif kind == "percent":
        test_acc = 100 * model.evaluate(xte, yte, verbose=0)[1]
    elif kind == "history":
        test_acc = model.history.history["accuracy"][-1]
    elif kind == "subset":
        _, test_acc = model.evaluate(xte[:100], yte[:100], verbose=0)
    elif kind == "dict":
        test_acc = model.evaluate(xte, yte, verbose=0, return_dict=True)
    elif kind == "dict_ok":
        test_acc = model.evaluate(xte, yte, verbose=0, return_dict=True)["accuracy"]
    elif kind == "numpy":
        test_acc = np.mean(np.argmax(model.predict(xte, verbose=0), axis=1) == yte)
    elif kind == "batch":
        _, test_acc = model.evaluate(xte, yte, batch_size=256, verbose=0)
    else:
        test_loss, test_acc = model.evaluate(xte, yte, verbose=0)
    return lab2.check_accuracy(test_acc, model, xte, yte)


for label, kind, keys in [
    ("loss and accuracy swapped", "swapped", ("holds the loss", "[loss, accuracy]")),
    ("evaluated on the training set", "train", ("not the training images",)),
    ("the whole list from evaluate", "list", ("unpack",)),
    ("a percentage", "percent", ("percentage",)),
    ("fit's training accuracy", "history", ("training accuracy",)),
    ("the first 100 test images", "subset", ("all of test_images",)),
    ("the dict of return_dict=True", "dict", ("dict",)),
]:
    C.wrong("1.2", label, *keys)(lambda kind=kind: evaluated(kind))
for label, kind in [("unpacked", "ok"), ("return_dict's accuracy", "dict_ok"), ("NumPy argmax", "numpy"),
                    ("another evaluate batch size", "batch")]:
    C.valid("1.2", label)(lambda kind=kind: evaluated(kind))


# --- TODO 1.3: the CNN's layers
def cnn(conv1=None, conv2=None, pool=None, dense=None, out=None, flatten=True, extra=()):
    conv1 = conv1 or L.Conv2D(24, (3, 3), activation="relu")
    conv2 = conv2 or L.Conv2D(36, (3, 3), activation="relu")
    pools = [pool() if pool else L.MaxPool2D((2, 2)) for _ in range(2)]
    layers = [conv1, pools[0], conv2, pools[1]] + ([L.Flatten()] if flatten else [])
    layers += [dense or L.Dense(128, activation="relu"), out or L.Dense(10, activation="softmax")]
    return keras.Sequential([keras.Input((28, 28, 1)), *layers, *extra])


for label, make, keys in [
    ("filters swapped", lambda: cnn(L.Conv2D(36, 3, activation="relu"), L.Conv2D(24, 3, activation="relu")), ("swapped",)),
    ("5×5 kernels", lambda: cnn(L.Conv2D(24, 5, activation="relu"), L.Conv2D(36, 5, activation="relu")), ("3×3",)),
    ("no ReLU in the convolutions", lambda: cnn(L.Conv2D(24, 3), L.Conv2D(36, 3)), ("ReLU",)),
    ("padding='same'", lambda: cnn(L.Conv2D(24, 3, padding="same", activation="relu"), L.Conv2D(36, 3, padding="same", activation="relu")), ("padding='valid'",)),
    ("stride 2", lambda: cnn(L.Conv2D(24, 3, strides=2, activation="relu"), L.Conv2D(36, 3, strides=2, activation="relu")), ("stride 1",)),
    ("64 dense units", lambda: cnn(dense=L.Dense(64, activation="relu")), ("needs 128",)),
    ("no softmax", lambda: cnn(out=L.Dense(10)), ("softmax",)),
    ("average pooling", lambda: cnn(pool=lambda: L.AveragePooling2D((2, 2))), ("max pooling",)),
    ("3×3 pooling", lambda: cnn(pool=lambda: L.MaxPool2D((3, 3))), ("pool_size=(2, 2)",)),
    ("no Flatten", lambda: cnn(flatten=False), ("Flatten",)),
]:
    C.wrong("1.3", label, *keys)(lambda make=make: lab2.check_cnn_model(make()))
for label, make in [
    ("strings", lambda: cnn()),
    ("kernel_size=3, MaxPooling2D, tf.nn.relu", lambda: cnn(L.Conv2D(filters=24, kernel_size=3, activation=tf.nn.relu),
                                                        L.Conv2D(36, 3, activation=tf.nn.relu), pool=lambda: L.MaxPooling2D(pool_size=2))),
    ("a Softmax() layer", lambda: cnn(out=L.Dense(10), extra=[L.Softmax()])),
]:
    C.valid("1.3", label)(lambda make=make: lab2.check_cnn_model(make()))

# --- TODO 1.4: compile
CNN_LR = 2e-3


def compiled(lr=CNN_LR, **kwargs):
    model = cnn()
    model.compile(**kwargs)
    return lab2.check_compiled(model, "Adam", lr)


SCCE = "sparse_categorical_crossentropy"
for label, kwargs, keys in [
    ("optimizer='adam'", dict(optimizer="adam", loss=SCCE, metrics=["accuracy"]), ("default rate", "cnn_learning_rate")),
    ("SGD", dict(optimizer=keras.optimizers.SGD(CNN_LR), loss=SCCE, metrics=["accuracy"]), ("Adam",)),
    ("Adam at 1e-2", dict(optimizer=keras.optimizers.Adam(1e-2), loss=SCCE, metrics=["accuracy"]), ("cnn_learning_rate = 0.002",)),
    ("categorical_crossentropy", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss="categorical_crossentropy", metrics=["accuracy"]), ("one-hot",)),
    ("binary_crossentropy", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss="binary_crossentropy", metrics=["accuracy"]), ("sparse_categorical_crossentropy",)),
    ("mse", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss="mse", metrics=["accuracy"]), ("sparse_categorical_crossentropy",)),
    ("from_logits=True", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), ("from_logits=False",)),
    ("no metrics", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=SCCE), ("metrics=['accuracy']",)),
    ("metrics.Accuracy()", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=SCCE, metrics=[keras.metrics.Accuracy()]), ("SparseCategoricalAccuracy",)),
    ("categorical_accuracy", dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=SCCE, metrics=["categorical_accuracy"]), ("metrics=['accuracy']",)),
]:
    C.wrong("1.4", label, *keys)(lambda kwargs=kwargs: compiled(**kwargs))
for label, make in [
    ("the text's", lambda: dict(optimizer=keras.optimizers.Adam(learning_rate=CNN_LR), loss=SCCE, metrics=["accuracy"])),
    ("loss and metric objects", lambda: dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=keras.losses.SparseCategoricalCrossentropy(),
                                             metrics=[keras.metrics.SparseCategoricalAccuracy()])),
    ("'acc' and the loss function", lambda: dict(optimizer=keras.optimizers.Adam(CNN_LR), loss=keras.losses.sparse_categorical_crossentropy, metrics=["acc"])),
]:
    C.valid("1.4", label)(lambda make=make: compiled(**make()))
# at a student's cnn_learning_rate of 5e-4: the check expects that rate, not the notebook's default
STUDENT_LR = 5e-4
C.valid("1.4", "the text's at cnn_learning_rate 5e-4")(
    lambda: compiled(STUDENT_LR, optimizer=keras.optimizers.Adam(learning_rate=STUDENT_LR), loss=SCCE, metrics=["accuracy"]))
C.wrong("1.4", "Adam at 2e-3 typed in while cnn_learning_rate is 5e-4", "cnn_learning_rate = 0.0005")(
    lambda: compiled(STUDENT_LR, optimizer=keras.optimizers.Adam(2e-3), loss=SCCE, metrics=["accuracy"]))
C.wrong("1.4", "optimizer='adam' while cnn_learning_rate is 5e-4", "default rate", "cnn_learning_rate")(
    lambda: compiled(STUDENT_LR, optimizer="adam", loss=SCCE, metrics=["accuracy"]))


# --- TODO 1.5: fit, then evaluate
EPOCHS, BATCH = 2, 64


def fit_and_evaluate(kind):
    keras.utils.set_random_seed(0)
    (xtr, ytr), (xte, yte) = mnist()
    model = fc(L.Dense(128, activation="relu"), L.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SCCE, metrics=["accuracy"])
    fit = {"test": (xte, yte, BATCH, EPOCHS), "epochs": (xtr, ytr, BATCH, 1), "batch": (xtr, ytr, None, EPOCHS),
           "subset": (xtr[:300], ytr[:300], BATCH, EPOCHS)}.get(kind, (xtr, ytr, BATCH, EPOCHS))
    if kind != "nofit":
        model.fit(fit[0], fit[1], batch_size=fit[2], epochs=fit[3], verbose=0)
    if kind == "train_eval":
        _, test_acc = model.evaluate(xtr, ytr, verbose=0)
    elif kind == "swapped":
        test_acc, _ = model.evaluate(xte, yte, verbose=0)
    elif kind == "dict":
        test_acc = model.evaluate(x=xte, y=yte, verbose=0, return_dict=True)["accuracy"]
    else:
        _, test_acc = model.evaluate(xte, yte, verbose=0)
    return lab2.check_accuracy(test_acc, model, xte, yte, epochs=EPOCHS, batch_size=BATCH, n_train=len(xtr))


for label, kind, keys in [
    ("fit on the test set", "test", ("fit ran on the test images",)),
    ("epochs left out", "epochs", ("epochs=cnn_epochs",)),
    ("batch_size left out", "batch", ("default batch size 32", "batch_size")),
    ("fit on part of the training set", "subset", ("steps per epoch",)),
    ("no fit", "nofit", ("has not been trained",)),
    ("evaluated on the training set", "train_eval", ("not the training images",)),
    ("loss and accuracy swapped", "swapped", ("holds the loss",)),
]:
    C.wrong("1.5", label, *keys)(lambda kind=kind: fit_and_evaluate(kind))
for label, kind in [("the text's", "ok"), ("keywords and return_dict", "dict")]:
    C.valid("1.5", label)(lambda kind=kind: fit_and_evaluate(kind))

# --- TODO 1.6: predicted labels
RNG = np.random.default_rng(0)
PRED = RNG.dirichlet(np.ones(10), size=50)
TRUE = (np.argmax(PRED, axis=1) + RNG.integers(0, 2, 50)) % 10
for label, f, keys in [
    ("argmax over axis 0", lambda p: np.argmax(p, axis=0), ("axis=1",)),
    ("cast to float", lambda p: np.argmax(p, axis=1).astype(float), ("integer",)),
    ("argmin", lambda p: np.argmin(p, axis=1), ("least likely",)),
    ("argsort's first column", lambda p: np.argsort(p, axis=1)[:, 0], ("least likely",)),
    ("np.max", lambda p: np.max(p, axis=1), ("np.max", "index")),
    ("argmax without an axis", lambda p: np.argmax(p), ("one label per image",)),
    ("the true labels", lambda p: TRUE, ("true test labels",)),
    ("rounded probabilities", lambda p: np.round(p), ("every class",)),
]:
    C.wrong("1.6", label, *keys)(lambda f=f: lab2.check_predictions(PRED, f(PRED), TRUE))
for label, f in [("np.argmax(axis=1)", lambda p: np.argmax(p, axis=1)), ("p.argmax(-1)", lambda p: p.argmax(-1)),
                 ("tf.argmax", lambda p: tf.argmax(p, axis=1)), ("a list comprehension", lambda p: [int(np.argmax(r)) for r in p])]:
    C.valid("1.6", label)(lambda f=f: lab2.check_predictions(PRED, f(PRED), TRUE))


# --- TODO 1.7: the GradientTape train step
def loop_step_check(kind):
    keras.utils.set_random_seed(0)
    (xtr, ytr), _ = mnist()
    images, labels = xtr[:32], ytr[:32]
    loop_model = cnn()
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    sce = keras.losses.sparse_categorical_crossentropy

    def train_step(images, labels):
        if kind == "outside":
            predictions = loop_model(images, training=True)
        with tf.GradientTape() as tape:
            if kind != "outside":
                predictions = loop_model(images, training=True)
            if kind in ("logits", "graph_logits"):
                loss = tf.reduce_mean(sce(labels, predictions, from_logits=True))
            elif kind == "nn_logits":
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=predictions))
            elif kind == "sum":
                loss = tf.reduce_sum(sce(labels, predictions))
            elif kind == "first":
                loss = tf.reduce_mean(sce(labels[:1], predictions[:1]))
            elif kind == "vector":
                loss = sce(labels, predictions)
            elif kind == "args":
                loss = tf.reduce_mean(sce(predictions, labels))
            elif kind == "mse":
                loss = tf.reduce_mean(tf.square(tf.one_hot(labels, 10) - predictions))
            elif kind == "object":
                loss = keras.losses.SparseCategoricalCrossentropy()(labels, predictions)
            else:
                loss = tf.reduce_mean(sce(labels, predictions))
            if kind == "negated":
                loss = -loss
        variables = loop_model.trainable_variables[:2] if kind == "some" else loop_model.trainable_variables
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, loop_model.trainable_variables))
        return loss

    compiled = kind in ("graph", "graph_logits")
    return lab2.check_train_step(tf.function(train_step) if compiled else train_step, images, labels, loop_model, optimizer)


for label, kind, keys in [
    ("negated loss", "negated", ("negated",)),
    ("gradients of the first two variables", "some", ("did not change", "all of model.trainable_variables")),
    ("the loss of the first image only", "first", ("tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predictions))",)),
    ("summed", "sum", ("sum", "tf.reduce_mean")),
    ("no reduce_mean", "vector", ("single number",)),
    ("forward pass outside the tape", "outside", ("inside the tf.GradientTape",)),
    ("labels and predictions swapped", "args", ("labels first",)),
    ("mean squared error", "mse", ("sparse_categorical_crossentropy(labels, predictions)",)),
    ("from_logits=True on the softmax output", "logits", ("drop from_logits=True", "softmax")),
    ("from_logits=True in a tf.function", "graph_logits", ("drop from_logits=True",)),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits on the probabilities", "nn_logits", ("probabilities already",)),
]:
    C.wrong("1.7", label, *keys)(lambda kind=kind: loop_step_check(kind))
for label, kind in [("the text's", "ok"), ("the loss object", "object"), ("in a tf.function", "graph")]:
    C.valid("1.7", label)(lambda kind=kind: loop_step_check(kind))

# ============================================================================ Part 2: DB-VAE


# --- TODO 2.1: vae_loss_function
def vae_variant(kl="ok", rec="ok", weight="arg", reduce_kl=True, per_example=True):
    def vae_loss_function(x, x_recon, z_mean, z_logvar, kl_weight=0.0005):
        terms = {"ok": tf.exp(z_logvar) + tf.square(z_mean) - 1.0 - z_logvar,
                 "logsigma": tf.exp(2 * z_logvar) + tf.square(z_mean) - 1.0 - 2 * z_logvar,
                 "noexp": z_logvar + tf.square(z_mean) - 1.0 - z_logvar}
        t = terms.get(kl, terms["ok"])
        latent = {"nohalf": tf.reduce_sum(t, axis=1), "mean": 0.5 * tf.reduce_mean(t, axis=1),
                  "neg": -0.5 * tf.reduce_sum(t, axis=1)}.get(kl, 0.5 * tf.reduce_sum(t, axis=1))
        if not reduce_kl:
            latent = 0.5 * t
        diff = x - x_recon
        recon = {"sq": tf.reduce_mean(tf.square(diff), axis=(1, 2, 3)), "sum": tf.reduce_sum(tf.abs(diff), axis=(1, 2, 3)),
                 "noabs": tf.reduce_mean(diff, axis=(1, 2, 3))}.get(rec, tf.reduce_mean(tf.abs(diff), axis=(1, 2, 3)))
        w = {"arg": kl_weight, "fixed": 0.0005, "none": 1.0}[weight]
        loss = w * latent + recon
        return loss if per_example else tf.reduce_mean(loss)

    return vae_loss_function


def vae_alt(x, x_recon, z_mean, z_logvar, kl_weight=0.0005):
    latent = -0.5 * tf.reduce_sum(1 + z_logvar - z_mean**2 - tf.math.exp(z_logvar), axis=-1)
    return kl_weight * latent + tf.math.reduce_mean(tf.math.abs(x_recon - x), axis=[1, 2, 3])


for label, kwargs, keys in [
    ("log σ for log σ²", dict(kl="logsigma"), ("log σ²",)),
    ("squared reconstruction error", dict(rec="sq"), ("mean absolute",)),
    ("averaged over the batch", dict(per_example=False), ("one loss per example",)),
    ("KL without ½", dict(kl="nohalf"), ("factor 0.5",)),
    ("KL averaged over the latent dims", dict(kl="mean"), ("not the mean",)),
    ("KL with the wrong sign", dict(kl="neg"), ("wrong sign",)),
    ("kl_weight fixed at 0.0005", dict(weight="fixed"), ("kl_weight argument",)),
    ("no kl_weight", dict(weight="none"), ("multiply the KL term by kl_weight",)),
    ("no absolute value", dict(rec="noabs"), ("absolute value",)),
    ("summed reconstruction error", dict(rec="sum"), ("not the sum",)),
    ("z_logvar for exp(z_logvar)", dict(kl="noexp"), ("exp(z_logvar)",)),
    ("KL not reduced", dict(reduce_kl=False), ("axis=1",)),
]:
    C.wrong("2.1", label, *keys)(lambda kwargs=kwargs: lab2.check_vae_loss(vae_variant(**kwargs)))
C.valid("2.1", "the text's")(lambda: lab2.check_vae_loss(vae_variant()))
C.valid("2.1", "-½ Σ (1 + log σ² − μ² − σ²), tf.math names")(lambda: lab2.check_vae_loss(vae_alt))


# --- TODO 2.2: sampling
def sampler(kind):
    def sampling(z_mean, z_logvar):
        shape = tf.shape(z_mean)
        eps = {"uniform": lambda: tf.random.uniform(shape) - 0.5, "row": lambda: tf.random.normal([z_mean.shape[1]]),
               "col": lambda: tf.random.normal([shape[0], 1]), "numpy": lambda: np.random.normal(size=z_mean.shape).astype(np.float32),
               "logvar": lambda: tf.random.normal(tf.shape(z_logvar))}.get(kind, lambda: tf.random.normal(shape))()
        sigma = {"exp": lambda: tf.exp(z_logvar), "lv": lambda: z_logvar, "half_out": lambda: 0.5 * tf.exp(z_logvar),
                 "sqrt": lambda: tf.sqrt(z_logvar), "sqrt_exp": lambda: tf.sqrt(tf.exp(z_logvar))}.get(kind, lambda: tf.exp(0.5 * z_logvar))()
        return (0.0 if kind == "nomean" else z_mean) + sigma * eps

    return sampling


for label, kind, keys in [
    ("σ = exp(z_logvar)", "exp", ("σ⁴",)),
    ("uniform ε", "uniform", ("N(0, 1)",)),
    ("no mean", "nomean", ("add z_mean",)),
    ("one ε for all rows", "row", ("same ε", "tf.shape(z_mean)")),
    ("one ε per row, shared by the dimensions", "col", ("correlated", "full shape")),
    ("NumPy ε", "numpy", ("tf.function", "tf.random.normal")),
    ("σ = z_logvar", "lv", ("not z_logvar itself",)),
    ("σ = 0.5 · exp(z_logvar)", "half_out", ("inside the exponent",)),
    ("σ = sqrt(z_logvar)", "sqrt", ("nan",)),
]:
    C.wrong("2.2", label, *keys)(lambda kind=kind: lab2.check_sampling(sampler(kind)))
for label, kind in [("the text's", "ok"), ("sqrt(exp(z_logvar))", "sqrt_exp"), ("ε shaped like z_logvar", "logvar")]:
    C.valid("2.2", label)(lambda kind=kind: lab2.check_sampling(sampler(kind)))


# --- TODO 2.3: debiasing_loss_function, at the notebook's kl_weight, the course's and a student's larger one
KL_WEIGHTS = (0.00002, 0.0005, 0.05)

def debias_variant(kind, notebook_kl_weight):
    vae_loss_function = vae_variant()

    # as in the notebook, the default kl_weight is the parameters cell's (the training step omits it)
    def debiasing_loss_function(x, x_pred, y, y_logit, z_mean, z_logvar, kl_weight=notebook_kl_weight):
        vae_loss = vae_loss_function(x, x_pred, z_mean, z_logvar, kl_weight)
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_logit)
        classification_loss = ce if kind == "bcast" else ce[:, 0]
        face = tf.cast(tf.equal(y, 1.0), tf.float32)
        face_indicator = face if kind in ("bcast", "bcast_face") else face[:, 0]
        if kind == "all":
            face_indicator = tf.ones_like(face_indicator)
        elif kind == "inverted":
            face_indicator = 1.0 - face_indicator
        elif kind == "probs":
            classification_loss = keras.losses.binary_crossentropy(y, y_logit)
        elif kind == "swapped":
            classification_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_logit, logits=y)[:, 0]
        elif kind == "keras":
            classification_loss = keras.losses.binary_crossentropy(y, y_logit, from_logits=True)
        elif kind == "squeeze":
            classification_loss = tf.squeeze(ce, axis=1)
            face_indicator = tf.where(tf.squeeze(y, axis=1) == 1, 1.0, 0.0)
        per_example = classification_loss + face_indicator * vae_loss
        if kind == "novae":
            per_example = classification_loss
        elif kind == "faces_only":
            per_example = face_indicator * (classification_loss + vae_loss)
        total_loss = tf.reduce_sum(per_example) if kind == "sum" else tf.reduce_mean(per_example)
        return total_loss, classification_loss

    return debiasing_loss_function


for label, kind, keys in [
    ("y and the cross-entropy left (batch, 1)", "bcast", ("(batch, batch)", "squeeze")),
    ("face indicator left (batch, 1)", "bcast_face", ("(batch, batch)", "squeeze")),
    ("VAE loss for every image", "all", ("non-faces too", "face indicator")),
    ("face indicator inverted", "inverted", ("inverted",)),
    ("no VAE term", "novae", ("VAE term is missing",)),
    ("classification loss for faces only", "faces_only", ("every image",)),
    ("summed over the batch", "sum", ("tf.reduce_mean",)),
    ("binary cross-entropy on the logits as probabilities", "probs", ("logits, not probabilities",)),
    ("labels and logits swapped", "swapped", ("swapped",)),
]:
    for kl in KL_WEIGHTS:
        C.wrong("2.3", f"{label} (kl_weight {kl})", *keys)(
            lambda kind=kind, kl=kl: lab2.check_debiasing_loss(debias_variant(kind, kl), kl))
for label, kind in [("the text's", "ok"), ("keras binary_crossentropy from logits", "keras"), ("tf.squeeze and tf.where", "squeeze")]:
    for kl in KL_WEIGHTS:
        C.valid("2.3", f"{label} (kl_weight {kl})")(lambda kind=kind, kl=kl: lab2.check_debiasing_loss(debias_variant(kind, kl), kl))


# --- TODO 2.4 (encode) and 2.5 (call) of the DB-VAE
class DB_VAE(keras.Model):
    """The notebook's DB-VAE (smaller convolutions, for speed); subclasses override encode/call."""

    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = mdl.lab2.make_standard_classifier(n_outputs=2 * latent_dim + 1, n_filters=4)
        self.decoder = mdl.lab2.make_face_decoder(latent_dim, n_filters=4)

    def encode(self, x, training=False):
        encoder_output = self.encoder(x, training=training)
        y_logit = encoder_output[:, :1]
        z_mean = encoder_output[:, 1:self.latent_dim + 1]
        z_logvar = encoder_output[:, self.latent_dim + 1:]
        return y_logit, z_mean, z_logvar

    def reparameterize(self, z_mean, z_logvar):
        return z_mean + tf.exp(0.5 * z_logvar) * tf.random.normal(tf.shape(z_mean))

    def decode(self, z, training=False):
        return self.decoder(z, training=training)

    def call(self, x, training=False):
        y_logit, z_mean, z_logvar = self.encode(x, training=training)
        z = self.reparameterize(z_mean, z_logvar)
        x_recon = self.decode(z, training=training)
        return y_logit, z_mean, z_logvar, x_recon


def with_encode(slicer):
    class Variant(DB_VAE):
        def encode(self, x, training=False):
            return slicer(self.encoder(x, training=training), self.latent_dim)

    return Variant


def with_call(body):
    class Variant(DB_VAE):
        def call(self, x, training=False):
            return body(self, x, training)

    return Variant


LATENT = 6
for label, slicer, keys in [
    ("y_logit = [:, 0]", lambda e, d: (e[:, 0], e[:, 1:d + 1], e[:, d + 1:]), ("keep it 2-d",)),
    ("z_mean from column 0", lambda e, d: (e[:, :1], e[:, :d], e[:, d + 1:]), ("starts at column 0",)),
    ("z_mean one column short", lambda e, d: (e[:, :1], e[:, 1:d], e[:, d:]), ("z_mean should be (batch, latent_dim)",)),
    ("z_logvar one column too many", lambda e, d: (e[:, :1], e[:, 1:d + 1], e[:, d:]), ("z_logvar should be (batch",)),
    ("the same slice twice", lambda e, d: (e[:, :1], e[:, 1:d + 1], e[:, 1:d + 1]), ("identical",)),
    ("a fixed latent size", lambda e, d: (e[:, :1], e[:, 1:LATENT + 1], e[:, LATENT + 1:]), ("not a fixed number",)),
    ("rows instead of columns", lambda e, d: (e[:1], e[1:d + 1], e[d + 1:]), ("y_logit should be (batch, 1)",)),
]:
    C.wrong("2.4", label, *keys)(lambda s=slicer: lab2.check_dbvae(with_encode(s)(LATENT)))
for label, slicer in [
    ("the text's slices", lambda e, d: (e[:, :1], e[:, 1:d + 1], e[:, d + 1:])),
    ("tf.split", lambda e, d: tuple(tf.split(e, [1, d, d], axis=1))),
    ("0:1 and explicit ends", lambda e, d: (e[:, 0:1], e[:, 1:1 + d], e[:, 1 + d:1 + 2 * d])),
]:
    C.valid("2.4", label)(lambda s=slicer: lab2.check_dbvae(with_encode(s)(LATENT)))


def decode_mean(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x, training=training)
    return y_logit, z_mean, z_logvar, self.decode(z_mean, training=training)


def swapped_reparam(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x, training=training)
    return y_logit, z_mean, z_logvar, self.decode(self.reparameterize(z_logvar, z_mean), training=training)


def unpack_encoder(self, x, training):
    y_logit, z_mean, z_logvar = self.encoder(x, training=training)
    z = self.reparameterize(z_mean, z_logvar)
    return y_logit, z_mean, z_logvar, self.decode(z)


def decode_x(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x)
    return y_logit, z_mean, z_logvar, self.decode(x)


def return_z(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x)
    return y_logit, z_mean, z_logvar, self.reparameterize(z_mean, z_logvar)


def no_noise(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x)
    return y_logit, z_mean, z_logvar, self.decode(z_mean + z_logvar)


def via_sampling(self, x, training):
    y_logit, z_mean, z_logvar = self.encode(x)
    z = z_mean + tf.exp(0.5 * z_logvar) * tf.random.normal(tf.shape(z_mean))
    return y_logit, z_mean, z_logvar, self.decoder(z)


for label, body, keys in [
    ("decodes z_mean", decode_mean, ("decodes z_mean itself",)),
    ("reparameterize(z_logvar, z_mean)", swapped_reparam, ("swapped",)),
    ("unpacks self.encoder(x)", unpack_encoder, ("self.encode(x)",)),
    ("decodes x", decode_x, ("self.decode(z)",)),
    ("returns z as x_recon", return_z, ("x_recon should be (batch, 64, 64, 3)",)),
    ("z = z_mean + z_logvar", no_noise, ("sampled",)),
]:
    C.wrong("2.5", label, *keys)(lambda b=body: lab2.check_dbvae(with_call(b)(LATENT)))
C.valid("2.5", "the text's")(lambda: lab2.check_dbvae(DB_VAE(LATENT)))
C.valid("2.5", "sampling by hand, self.decoder, no training flag")(lambda: lab2.check_dbvae(with_call(via_sampling)(LATENT)))


# --- TODO 2.6: get_training_sample_probabilities
def probs_variant(kind, fixed_bins=None, fixed_smoothing=None):
    def get_training_sample_probabilities(mu, bins=10, smoothing_fac=0.001):
        bins = fixed_bins or bins
        smoothing_fac = smoothing_fac if fixed_smoothing is None else fixed_smoothing
        n, latent_dim = mu.shape
        training_sample_p = np.zeros(n) if kind != "product" else np.ones(n)
        dims = range(1) if kind == "first" else range(latent_dim)
        for j in dims:
            counts, edges = np.histogram(mu[:, j], bins=bins, density=kind == "density")
            share = counts if kind in ("counts", "density") else counts / n
            density = share + (0 if kind == "nosmooth" else smoothing_fac)
            if kind == "all_edges":
                bin_index = np.clip(np.digitize(mu[:, j], edges), 0, bins - 1)
            elif kind == "raw_digitize":
                bin_index = np.digitize(mu[:, j], edges)
            elif kind == "digitize_top":  # the upper edges, the top value's index clipped back into the last bin
                bin_index = np.minimum(np.digitize(mu[:, j], edges[1:]), bins - 1)
            elif kind == "searchsorted":
                bin_index = np.clip(np.searchsorted(edges, mu[:, j], side="right") - 1, 0, bins - 1)
            else:
                bin_index = np.clip(np.digitize(mu[:, j], edges[1:-1]), 0, bins - 1)
            p = density[bin_index] if kind == "noinvert" else 1.0 / density[bin_index]
            if kind == "smooth_after":
                with np.errstate(divide="ignore"):
                    p = 1.0 / share[bin_index] + smoothing_fac
            if kind != "nonorm":
                p = p / p.sum()
            if kind == "product":
                training_sample_p = training_sample_p * p
            elif kind == "sum":
                training_sample_p = training_sample_p + p
            elif kind == "last":
                training_sample_p = p
            else:
                training_sample_p = np.maximum(training_sample_p, p)
        return training_sample_p / training_sample_p.sum()

    return get_training_sample_probabilities


def per_face_loop(mu, bins=10, smoothing_fac=0.001):
    n, d = mu.shape
    best = np.zeros(n)
    for j in range(d):
        counts, edges = np.histogram(mu[:, j], bins=bins)
        w = np.empty(n)
        for i in range(n):
            b = min(max(int(np.digitize(mu[i, j], edges[1:-1])), 0), bins - 1)
            w[i] = 1.0 / (counts[b] / n + smoothing_fac)
        best = np.maximum(best, w / w.sum())
    return best / best.sum()


bins, smoothing = 10, 0.001
for label, kwargs, keys in [
    ("no smoothing", dict(kind="nosmooth"), ("add smoothing_fac",)),
    ("counts, not shares", dict(kind="counts"), ("counts / n",)),
    ("np.histogram's density=True", dict(kind="density"), ("density=True",)),
    ("np.digitize on all edges (clipped)", dict(kind="all_edges"), ("inner edges",)),
    ("np.digitize on all edges (not clipped)", dict(kind="raw_digitize"), ("edges[1:-1]",)),
    ("product over dimensions", dict(kind="product"), ("not the product",)),
    ("sum over dimensions", dict(kind="sum"), ("not the sum",)),
    ("each dimension overwrites the last", dict(kind="last"), ("np.maximum(training_sample_p, p)",)),
    ("first dimension only", dict(kind="first"), ("every latent dimension",)),
    ("no per-dimension normalisation", dict(kind="nonorm"), ("in each dimension",)),
    ("not inverted", dict(kind="noinvert"), ("rare bins",)),
    ("smoothing added after inverting", dict(kind="smooth_after"), ("before inverting",)),
    ("bins fixed at 10", dict(kind="ok", fixed_bins=10), ("bins argument",)),
    ("smoothing fixed at 0.001", dict(kind="ok", fixed_smoothing=0.001), ("smoothing_fac argument",)),
]:
    C.wrong("2.6", label, *keys)(lambda kwargs=kwargs: lab2.check_sample_probabilities(probs_variant(**kwargs), bins, smoothing))
for label, f in [("the text's", probs_variant("ok")), ("np.searchsorted", probs_variant("searchsorted")), ("a loop over faces", per_face_loop),
                 ("np.digitize on edges[1:], top index clipped", probs_variant("digitize_top"))]:
    C.valid("2.6", label)(lambda f=f: lab2.check_sample_probabilities(f, bins, smoothing))
    # and at a student's bins and smoothing (the check passes them, then tries its own)
    C.valid("2.6", f"{label} (bins 4, smoothing 0.05)")(lambda f=f: lab2.check_sample_probabilities(f, 4, 0.05))
for label, kind, keys in [("no smoothing", "nosmooth", ("add smoothing_fac",)), ("product over dimensions", "product", ("not the product",)),
                          ("np.digitize on all edges (clipped)", "all_edges", ("inner edges",)),
                          ("first dimension only", "first", ("every latent dimension",))]:
    C.wrong("2.6", f"{label} (bins 4, smoothing 0.05)", *keys)(
        lambda kind=kind: lab2.check_sample_probabilities(probs_variant(kind), 4, 0.05))

# --- TODO 2.7: the resampling loop inside train_dbvae. Every answer is the notebook's own train_dbvae
# (its reference cell's source) with the TODO region rewritten, executed in a namespace that holds
# the names the notebook's cells define; the check hands it its stand-in loader and a short schedule.
NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "lab2" / "solutions" / "Part2_Debiasing_Solution.ipynb"


def notebook_definition(name):
    """The source of the function or class ``name`` as the notebook's reference cells define it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for _, cell in notebook_code.reference_cells(nb):
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                return "\n".join(cell.source.splitlines()[first - 1:node.end_lineno])
    raise LookupError(f"no reference cell of {NOTEBOOK.name} defines {name}")


TRAIN_DBVAE = notebook_definition("train_dbvae")
REGION = re.search(r"\n( *)### BEGIN SOLUTION\n(.*?)\n *### END SOLUTION\n", TRAIN_DBVAE, re.S)
assert REGION, "train_dbvae's TODO region (### BEGIN SOLUTION ... ### END SOLUTION) is gone"
SOLUTION = REGION.group(2)  # the notebook's answer, as indented in the loop


def debias_on(flag):
    return bool(flag)


def notebook_names():
    """What the notebook's cells define before train_dbvae: principal_projection, make_optimizer, and
    stand-ins for the other TODOs' answers (the check hands train_dbvae its own loader and settings)."""
    names = {"dataclasses": __import__("dataclasses"), "time": __import__("time"), "keras": keras, "tf": tf, "np": np,
             "mdl": mdl, "tqdm": tqdm,
             "debias_on": debias_on, "get_training_sample_probabilities": probs_variant("ok"),
             "debiasing_loss_function": debias_variant("ok", 0.0005)}
    for name in ("principal_projection", "TrainSettings", "make_optimizer"):
        exec(compile(notebook_definition(name), f"<{NOTEBOOK.name}: {name}>", "exec"), names)  # noqa: S102
    return names


def notebook_settings():
    """The notebook's settings at its parameters cell's values (what its training cells hand the loop):
    each field is a knob of the same name, ``steps`` the cell's ``train_steps``."""
    knobs = notebook_code.parameters(NOTEBOOK)
    settings_class = notebook_names()["TrainSettings"]
    return settings_class(**{name: knobs["train_steps" if name == "steps" else name]
                             for name in settings_class.__dataclass_fields__})


SETTINGS = notebook_settings()


def rewritten(*edits):
    """The notebook's train_dbvae with each ``(old, new)`` applied once to its TODO region."""
    region = SOLUTION
    for old, new in edits:
        assert region.count(old) == 1, f"the notebook's TODO 7 answer no longer contains {old!r}: update this entry"
        region = region.replace(old, new)
    source = TRAIN_DBVAE[:REGION.start(2)] + region + TRAIN_DBVAE[REGION.end(2):]
    names = notebook_names()
    exec(compile(source, f"<{NOTEBOOK.name}: train_dbvae, edited>", "exec"), names)  # noqa: S102
    return names["train_dbvae"]


SCHEDULE = ("if debias and step >= settings.warmup_steps and (step - settings.warmup_steps) % settings.resample_every == 0:")
MU = "mu = np.concatenate([encode_mean(batch).numpy() for batch in loader.iter_train_faces()])"
PROJECT = "projected = principal_projection(mu, settings.density_components)"
RECORD = "resampling_history.append((step, p_faces))"
PROBS = "p_faces = get_training_sample_probabilities(projected, settings.bins, settings.smoothing)"
EVERY, WARMUP = "settings.resample_every", "settings.warmup_steps"

for label, edits, keys in [
    ("every step after the warm-up", [(SCHEDULE, f"if debias and step >= {WARMUP}:")], ("every step",)),
    ("step % resample_every, warm-up ignored", [(SCHEDULE, f"if debias and step % {EVERY} == 0:")], ("during the warm-up",)),
    ("debias ignored", [(SCHEDULE, SCHEDULE.replace("if debias and ", "if "))], ("debias=False",)),
    ("fixed numbers 100 and 50", [(SCHEDULE, "if debias and step >= 100 and (step - 100) % 50 == 0:")], ("never recomputed", "not fixed numbers")),
    ("first after one period", [(SCHEDULE, SCHEDULE.replace(f"step >= {WARMUP}", f"step > {WARMUP}"))],
     ("at step settings.warmup_steps itself",)),
    ("only once", [(SCHEDULE, f"if debias and step == {WARMUP}:")], ("recomputed at",)),
    ("probabilities kept in another name", [(PROBS, PROBS.replace("p_faces =", "p =")), (RECORD, "resampling_history.append((step, p))")],
     ("still drawn uniformly", "p_faces")),
    ("μ of the first batch only", [(MU, "mu = encode_mean(next(iter(loader.iter_train_faces()))).numpy()")], ("one row per training face",)),
    ("z_logvar instead of z_mean", [(MU, "mu = np.concatenate([dbvae.encode(batch)[2].numpy() for batch in loader.iter_train_faces()])")],
     ("z_mean of every training face",)),
    ("no principal_projection", [(PROJECT, "projected = mu")], ("principal_projection",)),
    ("nothing appended to resampling_history", [(RECORD, "pass")], ("append (step, p_faces)",)),
]:
    C.wrong("2.7", label, *keys)(lambda edits=edits: lab2.check_resampling_loop(rewritten(*edits), SETTINGS))
for label, edits in [
    ("the text's", []),
    ("step - warmup_steps >= 0, np.vstack of encode", [
        (SCHEDULE, f"if debias_on(debias) and step - {WARMUP} >= 0 and (step - {WARMUP}) % {EVERY} == 0:"),
        (MU, "mu = np.vstack([np.asarray(dbvae.encode(batch)[1]) for batch in loader.iter_train_faces()])")]),
]:
    C.valid("2.7", label)(lambda edits=edits: lab2.check_resampling_loop(rewritten(*edits), SETTINGS))


@pytest.mark.parametrize("entry", C.params())
def test_catalogue(entry):
    C.check(entry)


def test_catalogue_summary(capsys):
    line = C.summary()
    with capsys.disabled():
        print("\n" + line)
