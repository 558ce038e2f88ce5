"""Figures the notebooks show: nothing drawn over the data."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import mitdeeplearning as mdl  # noqa: E402


def test_group_accuracy_legend_sits_beside_the_bars():
    results = {"standard CNN": [0.99, 1.0, 0.1, 0.1], "DB-VAE": [0.98, 0.97, 0.9, 0.94], "oracle CNN": [1, 1, 1, 1]}
    fig = mdl.lab2.plot_group_accuracy(results)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    legend = fig.legends[0].get_window_extent(renderer)
    plot_area = ax.get_window_extent(renderer)
    assert legend.x0 >= plot_area.x1, "the legend overlaps the axes, so it can hide a bar"
    assert legend.x1 <= fig.bbox.x1, "the legend is cut off at the figure's right edge"


def test_fit_callback_plots_each_epoch_and_draws_the_end():
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((64, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    plotter = mdl.util.PeriodicPlotter(sec=3600, xlabel="epoch", ylabel="loss")
    callback = plotter.fit_callback()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[callback])
    assert callback.values == pytest.approx(history.history["loss"])
    assert plotter._x == [1, 2, 3]  # x counts epochs from 1, as fit's log does
    (line,) = plotter.figure().axes[0].get_lines()
    assert list(line.get_xdata()) == [1, 2, 3]
    with pytest.raises(KeyError, match="fit reported no 'accuracy' after epoch 1"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[plotter.fit_callback("accuracy")])  # not compiled as a metric
