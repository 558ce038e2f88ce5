"""Helpers shared by every lab: training-progress plots, model pictures, environment report.

Names and arguments follow the 2020/21 course notebooks (``LossHistory``, ``PeriodicPlotter``,
``display_model``, ``plot_sample``), reimplemented so that live plots update in place through a
display handle (tqdm bars and prints in the same cell survive) and do nothing harmful headless.
A plot can draw a training loop's measured reference behind the curve; ``verdict`` and
``load_reference`` (from ``mitdeeplearning.ontrack``) judge a finished run against it.
"""

import importlib.metadata
import io
import time

import numpy as np

from . import ontrack
from .ontrack import load_reference, verdict

__all__ = [
    "LossHistory",
    "PeriodicPlotter",
    "load_reference",
    "verdict",
    "display_model",
    "plot_sample",
    "print_environment",
    "in_notebook",
    "tqdm",
    "report_result",
    "RESULT_MIME",
]

# The MIME type of a notebook's headline-result record (see report_result).
RESULT_MIME = "application/vnd.mitdeeplearning.result+json"


def in_notebook():
    """True when running inside an IPython kernel (Jupyter, Colab, papermill)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def tqdm(*args, **kwargs):
    """A tqdm progress bar: a widget in a live notebook, plain text everywhere else.

    Takes tqdm's own arguments. A headless run (``mitdeeplearning run``, the tests) sets
    ``MDL_TEXT_PROGRESS=1``: a widget bar saved in a notebook file would show only its first state,
    while a text bar keeps its last line. Without ipywidgets the bar is text as well.
    """
    import importlib.util
    import os

    widget = in_notebook() and os.environ.get("MDL_TEXT_PROGRESS") != "1" and importlib.util.find_spec("ipywidgets")
    if widget:
        from tqdm.notebook import tqdm as bar
    else:
        from tqdm.std import tqdm as bar
    return bar(*args, **kwargs)


class LossHistory:
    """Running record of a scalar, optionally smoothed by an exponential moving average.

    ``smoothing_factor`` in [0, 1): 0 keeps raw values; 0.9 averages over roughly ten steps.
    """

    def __init__(self, smoothing_factor=0.0):
        if not 0.0 <= smoothing_factor < 1.0:
            raise ValueError(f"smoothing_factor must be in [0, 1), got {smoothing_factor}")
        self.alpha = smoothing_factor
        self.loss = []

    def append(self, value):
        value = float(np.asarray(value).mean())
        if self.loss and self.alpha > 0:
            value = self.alpha * self.loss[-1] + (1 - self.alpha) * value
        self.loss.append(value)

    def get(self):
        return self.loss

    def __len__(self):
        return len(self.loss)


class PeriodicPlotter:
    """A line plot that redraws in place at most every ``sec`` seconds.

    ``plot(data)`` takes a list of numbers, or a dict mapping a label to a list for several
    lines; ``plot(data, x=...)`` gives their x values (one list for all lines, or a dict like
    ``data``), else x counts 0, 1, 2, ... Call ``finish()`` (or use the plotter as a context
    manager) to draw the final state, whatever the throttle says. Outside a notebook nothing is
    drawn; the data is kept, and ``save(path)`` or ``render_png()`` draw it.
    ``scale`` may be ``"semilogy"``/``"log"`` for a logarithmic y axis.

    ``reference``: a training loop's measured reference (a loop id such as ``"lab3.cartpole"``, or
    a :class:`mitdeeplearning.ontrack.Reference`). Its median and 10-90 % band are drawn behind the
    curves, labelled ``reference: 5 seeds, default settings``. ``settings``: the run's knobs; when
    one that changes the curve differs from the reference's, the band is drawn lighter and dashed,
    as a guide only, and the title names the knobs. When the loop's shipped references cannot speak
    for these settings (none measured at a budget near the run's), the run is drawn alone and the
    title says so in one line (``reference_note``). The band's artists carry the gids
    ``mdl-reference-band`` and ``mdl-reference-median``; the PNG carries the legend line in its
    text chunk ``mdl-reference`` (``none`` without a band) and the title's note in
    ``mdl-reference-note``, where a browser test can read them.
    """

    def __init__(self, sec, xlabel="", ylabel="", scale=None, title=None, reference=None, settings=None):
        self.sec = sec
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.scale = scale
        self.title = title
        self.settings = settings
        self.reference = None
        self.reference_note = ""  # one line, when no measured reference can speak for these settings
        if isinstance(reference, str):
            try:
                reference = ontrack.load_reference(reference, settings=settings)
            except ontrack.NoReference as missing:
                reference, self.reference_note = None, f"{missing}: your run is drawn alone"
        if reference is not None:
            if not isinstance(reference, ontrack.Reference):
                raise TypeError(f"reference must be a loop id or an ontrack.Reference, got {type(reference).__name__}")
            reference.differences(settings)  # a settings value that is not a dict fails here, not mid-training
            self.reference = reference
        self._last_draw = -float("inf")
        self._handle = None
        self._data = None
        self._x = None
        self.draws = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.finish()
        return False

    def plot(self, data, x=None):
        if x is not None:
            _check_x(data, x)
        self._data = data
        self._x = x
        if time.time() - self._last_draw >= self.sec:
            self._draw()

    def finish(self):
        if self._data is not None:
            self._draw()

    def figure(self):
        """The current plot as a matplotlib ``Figure`` (built without pyplot: no window, no global state)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 3.2), dpi=90)
        ax = fig.add_subplot()
        if self.reference is not None:
            self.reference.draw(ax, self.settings)
        if self._data is not None:
            series = self._data if isinstance(self._data, dict) else {None: self._data}
            for label, values in series.items():
                values = np.asarray(values, dtype=float).ravel()
                x = self._x[label] if isinstance(self._x, dict) else self._x
                x = np.arange(len(values)) if x is None else np.asarray(x, dtype=float).ravel()
                if label is None and self.reference is not None:
                    label = "your run"
                ax.plot(x, values, label=label, zorder=3)
        if isinstance(self._data, dict) or self.reference is not None:
            ax.legend(loc="best")
        if self.scale in ("semilogy", "log"):
            ax.set_yscale("log")
        elif self.scale == "semilogx":
            ax.set_xscale("log")
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        note = self.reference.differences_note(self.settings) if self.reference is not None else self.reference_note
        if note:
            import textwrap

            ax.set_title("\n".join(filter(None, [self.title] + textwrap.wrap(note, 90))), fontsize=8)
        elif self.title:
            ax.set_title(self.title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    def _png_metadata(self):
        if self.reference is None:
            text = {"mdl-reference": "none", "mdl-reference-note": self.reference_note} if self.reference_note else {}
        else:
            text = {"mdl-reference": self.reference.legend(self.settings),
                    "mdl-reference-note": self.reference.differences_note(self.settings)}
        return {key: value.encode("latin-1", "replace").decode("latin-1") for key, value in text.items()}

    def render_png(self):
        """The current plot as PNG bytes (also what the notebook shows)."""
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png", metadata=self._png_metadata())
        return buffer.getvalue()

    def save(self, path):
        """Write the current plot to ``path`` (PNG, SVG, PDF: by its suffix); works headless."""
        import pathlib

        path = pathlib.Path(path)
        if path.suffix.lower() == ".png":
            path.write_bytes(self.render_png())
        else:
            self.figure().savefig(path)
        return path

    def fit_callback(self, metric="loss"):
        """A Keras callback for ``model.fit(..., callbacks=[plotter.fit_callback()])``.

        After every epoch it appends fit's ``metric`` to its ``values`` and plots them against the
        epoch number (1, 2, ...); at the end of training it draws the final state.
        """
        import keras

        plotter = self

        class PlotEpochs(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.values = []

            def on_epoch_end(self, epoch, logs=None):
                if not logs or metric not in logs:
                    raise KeyError(f"fit reported no {metric!r} after epoch {epoch + 1}; it reported {sorted(logs or {})}")
                self.values.append(float(logs[metric]))
                plotter.plot(self.values, x=list(range(1, len(self.values) + 1)))

            def on_train_end(self, logs=None):
                plotter.finish()

        return PlotEpochs()

    def _draw(self):
        self._last_draw = time.time()
        if not in_notebook():
            return
        from IPython.display import Image, display

        image = Image(data=self.render_png(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self.draws += 1


def _check_x(data, x):
    """Refuse x values that do not pair with the data: a mismatch would otherwise show only when drawn."""
    if isinstance(data, dict):
        for label, values in data.items():
            xs = x.get(label) if isinstance(x, dict) else x
            if xs is None or len(xs) != len(values):
                raise ValueError(f"plot: {len(values)} values for {label!r} but "
                                 f"{'no' if xs is None else len(xs)} x values")
    elif isinstance(x, dict) or len(x) != len(data):
        raise ValueError(f"plot: {len(data)} values but {'a dict of' if isinstance(x, dict) else len(x)} x values")


def display_model(model, **kwargs):
    """Show a picture of a Keras model's graph, or its text summary when pydot or graphviz is missing.

    Returns nothing, so a cell ending with this call echoes no object.
    """
    import importlib.util
    import shutil

    if not (importlib.util.find_spec("pydot") and shutil.which("dot")):
        model.summary()
        return
    import tempfile

    import keras
    from IPython.display import display

    with tempfile.TemporaryDirectory(prefix="mdl_model_") as folder:  # the picture is read into memory
        display(keras.utils.plot_model(model, to_file=f"{folder}/model.png", show_shapes=True, **kwargs))


def plot_sample(x, y, vae, index=None):
    """Show one face from batch ``x`` next to the VAE's reconstruction of it.

    ``vae(x)`` must return ``(y_logit, z_mean, z_logvar, x_recon)`` as the lab 2 DB-VAE does;
    ``y`` holds the face labels (1 = face). Picks the first face unless ``index`` is given.
    """
    import matplotlib.pyplot as plt

    y = np.asarray(y).reshape(-1)
    if index is None:
        faces = np.flatnonzero(y == 1)
        if faces.size == 0:
            raise ValueError("plot_sample needs at least one face (label 1) in the batch")
        index = int(faces[0])
    outputs = vae(x)
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 4:
        raise ValueError("vae(x) must return (y_logit, z_mean, z_logvar, x_recon)")
    recon = np.asarray(outputs[3])
    fig, axes = plt.subplots(1, 2, figsize=(4.5, 2.4))
    for ax, image, title in zip(axes, (np.asarray(x)[index], recon[index]), ("input", "reconstruction")):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title)
        ax.axis("off")
    plt.show()
    return fig


def print_environment(packages=("tensorflow", "keras", "numpy")):
    """Print two lines: Python and package versions; the compute device, and what it means here."""
    import os
    import platform

    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    print(f"Python {platform.python_version()} · " + " · ".join(versions))
    if "tensorflow" in packages:
        import tensorflow as tf

        from ._quiet import native_stderr_filtered

        with native_stderr_filtered():  # CUDA's "failed call to cuInit" on a machine without a GPU
            gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            print(f"Device: {len(gpus)} GPU(s): " + ", ".join(g.name for g in gpus))
        else:
            print(
                f"Device: CPU ({os.cpu_count()} cores). The default parameters are sized for a CPU, "
                "so this is fine; a GPU (Colab: Runtime → Change runtime type) only makes it faster."
            )


def report_result(text, **values):
    """Print a notebook's headline result as a sentence, and record the same numbers as data.

    ``values`` (numbers, strings, None) go into the notebook's output under ``RESULT_MIME``, so
    the runner and the benchmarks read them from the executed notebook instead of parsing text.
    Returns nothing (a cell ending with this call echoes no value).
    """
    import json

    for key, value in values.items():
        if isinstance(value, np.generic):
            values[key] = value.item()
        elif value is not None and not isinstance(value, (int, float, str, bool)):
            raise TypeError(f"report_result: {key}={value!r} is not a number or a string")
    json.dumps(values, allow_nan=False)  # refuses NaN/inf: a result must be a real number
    if in_notebook():  # one output: the sentence is what a reader sees, the record rides along
        from IPython.display import display

        display({RESULT_MIME: values, "text/plain": text}, raw=True)
    else:
        print(text)
