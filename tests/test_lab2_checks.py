"""Every lab 2 check accepts the reference answer and rejects a wrong one with its hint.

The part-2 reference answers are the solution notebook's own code (conftest's ``debiasing_code``).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mitdeeplearning import debias, lab2

L = keras.layers


def fc(hidden_act="relu", out_act="softmax", units=10):
    return keras.Sequential([keras.Input((28, 28, 1)), L.Flatten(), L.Dense(128, activation=hidden_act), L.Dense(units, activation=out_act)])


def cnn(filters=(24, 36), pool=True, out_act="softmax"):
    layers = [keras.Input((28, 28, 1)), L.Conv2D(filters[0], 3, activation="relu")]
    layers += [L.MaxPool2D()] if pool else []
    layers += [L.Conv2D(filters[1], 3, activation="relu"), L.MaxPool2D(), L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10, activation=out_act)]
    return keras.Sequential(layers)


def test_check_fc_model(capsys):
    assert lab2.check_fc_model(fc()) is None
    assert capsys.readouterr().out.startswith("✔")
    with pytest.raises(AssertionError, match="softmax"):
        lab2.check_fc_model(fc(out_act=None))
    with pytest.raises(AssertionError, match="relu"):
        lab2.check_fc_model(fc(hidden_act="sigmoid"))
    with pytest.raises(AssertionError, match="needs 10"):
        lab2.check_fc_model(fc(units=5))


def test_check_cnn_model():
    assert lab2.check_cnn_model(cnn()) is None
    with pytest.raises(AssertionError, match="swapped"):
        lab2.check_cnn_model(cnn(filters=(36, 24)))
    with pytest.raises(AssertionError, match="MaxPool2D"):
        lab2.check_cnn_model(cnn(pool=False))
    with pytest.raises(AssertionError, match="softmax"):
        lab2.check_cnn_model(cnn(out_act=None))


def test_check_compiled():
    model = cnn()
    with pytest.raises(AssertionError, match="compile"):
        lab2.check_compiled(model)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(AssertionError, match="sparse_categorical_crossentropy"):
        lab2.check_compiled(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert lab2.check_compiled(model) is None


def test_check_accuracy():
    assert lab2.check_accuracy(0.97) is None
    with pytest.raises(AssertionError, match="did you pass the loss"):
        lab2.check_accuracy(2.3)
    with pytest.raises(AssertionError, match="chance"):
        lab2.check_accuracy(0.11)


def test_check_predictions():
    p = np.random.default_rng(0).random((20, 10))
    assert lab2.check_predictions(p, np.argmax(p, axis=1)) is None
    with pytest.raises(AssertionError, match="axis=1"):
        lab2.check_predictions(p, np.argmax(p, axis=0))
    with pytest.raises(AssertionError, match="integers"):
        lab2.check_predictions(p, np.argmax(p, axis=1).astype(float))
    with pytest.raises(AssertionError, match="differ"):
        lab2.check_predictions(p, (np.argmax(p, axis=1) + 1) % 10)


def test_check_train_step():
    x = np.random.default_rng(0).random((16, 28, 28, 1)).astype(np.float32)
    y = np.arange(16) % 10
    model = cnn()
    opt = keras.optimizers.Adam(1e-3)

    def good(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, model(images)))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def no_update(images, labels):
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, model(images)))

    assert lab2.check_train_step(good, x, y) is None
    with pytest.raises(AssertionError, match="did not go down"):
        lab2.check_train_step(no_update, x, y)


def test_check_vae_loss(debiasing_code):
    assert lab2.check_vae_loss(debiasing_code.vae_loss_function) is None

    def log_sigma(x, xr, m, lv, kl_weight=0.0005):
        kl = 0.5 * tf.reduce_sum(tf.exp(2 * lv) + m**2 - 1 - 2 * lv, axis=1)
        return kl_weight * kl + tf.reduce_mean(tf.abs(x - xr), axis=(1, 2, 3))

    def squared(x, xr, m, lv, kl_weight=0.0005):
        kl = 0.5 * tf.reduce_sum(tf.exp(lv) + m**2 - 1 - lv, axis=1)
        return kl_weight * kl + tf.reduce_mean((x - xr) ** 2, axis=(1, 2, 3))

    def scalar(x, xr, m, lv, kl_weight=0.0005):
        return tf.reduce_mean(debiasing_code.vae_loss_function(x, xr, m, lv, kl_weight))

    with pytest.raises(AssertionError, match="log σ²"):
        lab2.check_vae_loss(log_sigma)
    with pytest.raises(AssertionError, match="mean \\|x − x_recon\\|"):
        lab2.check_vae_loss(squared)
    with pytest.raises(AssertionError, match="one loss per example"):
        lab2.check_vae_loss(scalar)


def test_check_sampling(debiasing_code):
    assert lab2.check_sampling(debiasing_code.sampling) is None
    with pytest.raises(AssertionError, match="σ⁴"):
        lab2.check_sampling(lambda m, lv: m + tf.exp(lv) * tf.random.normal(tf.shape(m)))
    with pytest.raises(AssertionError, match="N\\(0, 1\\)"):
        lab2.check_sampling(lambda m, lv: m + tf.exp(0.5 * lv) * (tf.random.uniform(tf.shape(m)) - 0.5))
    with pytest.raises(AssertionError, match="means"):
        lab2.check_sampling(lambda m, lv: tf.exp(0.5 * lv) * tf.random.normal(tf.shape(m)))


def test_check_debiasing_loss(debiasing_code):
    assert lab2.check_debiasing_loss(debiasing_code.debiasing_loss_function, debiasing_code.kl_weight) is None

    def vae_for_all(x, xp, y, yl, m, lv, kl_weight=0.0005):
        vae = debiasing_code.vae_loss_function(x, xp, m, lv, kl_weight)
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=yl)[:, 0]
        return tf.reduce_mean(ce + vae), ce

    def no_vae(x, xp, y, yl, m, lv, kl_weight=0.0005):
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=yl)[:, 0]
        return tf.reduce_mean(ce), ce

    def sum_not_mean(x, xp, y, yl, m, lv, kl_weight=0.0005):
        total, ce = debiasing_code.debiasing_loss_function(x, xp, y, yl, m, lv, kl_weight)
        return total * 4, ce

    with pytest.raises(AssertionError, match="non-faces too"):
        lab2.check_debiasing_loss(vae_for_all, 0.0005)
    with pytest.raises(AssertionError, match="VAE term is missing"):
        lab2.check_debiasing_loss(no_vae, 0.0005)
    with pytest.raises(AssertionError, match="batch mean"):
        lab2.check_debiasing_loss(sum_not_mean, 0.0005)


def test_check_dbvae(debiasing_code):
    model = debiasing_code.DB_VAE(4)
    assert lab2.check_dbvae(model) is None

    class MeanOnly(debiasing_code.DB_VAE):
        def call(self, x, training=False):
            y, m, lv = self.encode(x)
            return y, m, lv, self.decode(m)

    class SameSlices(debiasing_code.DB_VAE):
        def encode(self, x, training=False):
            out = self.encoder(x, training=training)
            return out[:, :1], out[:, 1:5], out[:, 1:5]

    with pytest.raises(AssertionError, match="sampled"):
        lab2.check_dbvae(MeanOnly(4))
    with pytest.raises(AssertionError, match="identical"):
        lab2.check_dbvae(SameSlices(4))


def test_check_sample_probabilities(debiasing_code):
    code = debiasing_code
    assert lab2.check_sample_probabilities(code.get_training_sample_probabilities, code.bins, code.smoothing) is None
    with pytest.raises(AssertionError, match="sum to 1"):
        lab2.check_sample_probabilities(lambda mu, bins, smoothing_fac: np.ones(len(mu)), code.bins, code.smoothing)
    with pytest.raises(AssertionError, match="differ from the histogram weights"):
        lab2.check_sample_probabilities(lambda mu, bins, smoothing_fac: np.ones(len(mu)) / len(mu), code.bins, code.smoothing)
    with pytest.raises(AssertionError, match="one probability per face"):
        lab2.check_sample_probabilities(lambda mu, bins, smoothing_fac: np.ones(mu.shape) / mu.size, code.bins, code.smoothing)


def test_check_resampling_loop_takes_the_notebooks_settings(debiasing_code):
    assert lab2.check_resampling_loop(debiasing_code.train_dbvae, debiasing_code.settings) is None
    with pytest.raises(AssertionError, match="settings object"):
        lab2.check_resampling_loop(debiasing_code.train_dbvae, {"warmup_steps": 3})


def test_check_dbvae_training():
    p = np.ones(10) / 10
    assert lab2.check_dbvae_training([3.0, 2.5, 2.0, 1.5, 1.0], [(2, p)], 10) is None
    with pytest.raises(AssertionError, match="did not fall"):
        lab2.check_dbvae_training([1.0, 2.0, 3.0, 4.0, 5.0], [(2, p)], 10)
    with pytest.raises(AssertionError, match="never recomputed"):
        lab2.check_dbvae_training([3.0, 1.0], [], 10)
    with pytest.raises(AssertionError, match="summing to 1"):
        lab2.check_dbvae_training([3.0, 1.0], [(1, p * 2)], 10)


def test_plots_run_headless():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.random.default_rng(0).dirichlet(np.ones(10), size=3)
    imgs = np.zeros((3, 28, 28, 1), np.float32)
    lab2.plot_image_prediction(0, p, np.array([1, 2, 3]), imgs)
    lab2.plot_value_prediction(0, p, np.array([1, 2, 3]))
    lab2.plot_sample_grid(imgs, titles=[1, 2, 3])
    lab2.plot_group_accuracy({"a": [0.9, 0.8, 0.7, 0.6], "b": [1, 1, 1, 1]})
    plt.close("all")


def test_lazy_reference_names():
    assert lab2.evaluate_groups is debias.evaluate_groups
    with pytest.raises(AttributeError):
        lab2.no_such_name


def _fitted(epochs=2):
    keras.utils.set_random_seed(0)
    x, y = np.random.default_rng(0).random((64, 4)).astype("float32"), np.arange(64) % 2
    model = keras.Sequential([keras.Input((4,)), L.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, verbose=0)
    return model, history, model.evaluate(x, y, verbose=0)


def test_check_fit_history_accepts_fits_history_and_rejects_the_usual_slips():
    model, history, evaluated = _fitted()
    assert lab2.check_fit_history(history, 2) is None
    empty = keras.callbacks.History()  # what Keras before 3.9 leaves in model.history after evaluate
    empty.set_model(model)
    for wrong, hint in [(None, "cnn_history is None"),
                        (evaluated, "got a list"),
                        (model, "got a Sequential"),
                        (empty, "records no training loss"),
                        (_fitted(epochs=1)[1], "records 1 epochs")]:
        with pytest.raises(AssertionError, match=hint):
            lab2.check_fit_history(wrong, 2)


def test_a_missing_cnn_history_gets_a_hint_naming_the_fix():
    from mitdeeplearning import _todo

    try:
        cnn_history  # noqa: F821  (the student kept no History)
    except NameError as error:
        assert "cnn_history = cnn_model.fit(" in _todo.hint_for(error, error.__traceback__)
    assert _todo.hint_for(NameError("name 'history' is not defined"), None) == ""
