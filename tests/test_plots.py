"""Figures the notebooks show: nothing drawn over the data."""

import matplotlib

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
