"""Figures of lab 2: a digit with its predicted probabilities, a grid of images, recall per group.

``plot_image_prediction`` and ``plot_value_prediction`` draw into the current axes, so a cell lays
out subplots around them; the others make a figure of their own and return it. matplotlib is
imported on first use.
"""

import numpy as np

from .faces import GROUPS

__all__ = ["plot_image_prediction", "plot_value_prediction", "plot_sample_grid", "plot_group_accuracy"]


def plot_image_prediction(i, predictions_array, true_label, img):
    """Show image ``i`` with its predicted digit, the model's confidence and the true label.

    Blue caption when the prediction is right, red when wrong.
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
