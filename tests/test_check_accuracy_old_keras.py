"""check_accuracy on Keras before 3.9, whose ``evaluate`` replaces ``model.history`` with a History
of its own (Colab's 2025.07 runtime has Keras 3.8): the check then reads the fit from the optimizer's
step count. Here that Keras behaviour is reproduced by doing what its evaluate does to the model."""

import keras
import numpy as np
import pytest

from mitdeeplearning import lab2

EPOCHS, BATCH = 2, 64


def _data():
    rng = np.random.default_rng(0)
    x_train, x_test = rng.random((600, 8)).astype("float32"), rng.random((200, 8)).astype("float32")
    return x_train, (x_train[:, 0] > 0.5).astype(int), x_test, (x_test[:, 0] > 0.5).astype(int)


def _fit_then_evaluate_like_keras_3_8(x, y, batch_size, epochs, fits=1):
    x_train, y_train, x_test, y_test = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(fits):
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    evaluate_history = keras.callbacks.History()  # Keras 3.8's evaluate leaves its own History here
    evaluate_history.set_params({"verbose": 0, "epochs": 1, "steps": int(np.ceil(len(x_test) / 32))})
    model.history = evaluate_history
    return lambda: lab2.check_accuracy(acc, model, x_test, y_test, epochs=EPOCHS, batch_size=BATCH, n_train=len(x_train))


def test_the_right_fit_passes_also_when_the_cell_ran_twice(capsys):
    x_train, y_train, _, _ = _data()
    _fit_then_evaluate_like_keras_3_8(x_train, y_train, BATCH, EPOCHS)()
    _fit_then_evaluate_like_keras_3_8(x_train, y_train, BATCH, EPOCHS, fits=2)()
    assert capsys.readouterr().out.count("✔") == 2


@pytest.mark.parametrize("mistake, fit, hint", [
    ("fit on the test images", lambda d: (d[2], d[3], BATCH, EPOCHS), "fit ran on the test images"),
    ("Keras' default batch size", lambda d: (d[0], d[1], None, EPOCHS), "default batch size 32"),
    ("one epoch", lambda d: (d[0], d[1], BATCH, 1), "fit ran for 1 epochs"),
])
def test_mistakes_keep_their_hints(mistake, fit, hint):
    check = _fit_then_evaluate_like_keras_3_8(*fit(_data()))
    with pytest.raises(AssertionError, match=hint):
        check()
