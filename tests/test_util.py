"""mdl.util: loss history, the periodic plotter (in a kernel and headless), environment report."""

import numpy as np
import pytest

import mitdeeplearning as mdl


def test_loss_history_raw_and_smoothed():
    raw = mdl.util.LossHistory()
    smooth = mdl.util.LossHistory(smoothing_factor=0.5)
    for value in (4.0, 2.0, 2.0):
        raw.append(value)
        smooth.append(np.array([value, value]))  # batches are averaged
    assert raw.get() == [4.0, 2.0, 2.0]
    assert smooth.get() == [4.0, 3.0, 2.5]
    with pytest.raises(ValueError, match="smoothing_factor"):
        mdl.util.LossHistory(1.5)


def test_plotter_headless_keeps_data_and_draws_nothing():
    plotter = mdl.util.PeriodicPlotter(sec=0, xlabel="step", ylabel="loss")
    with plotter:
        plotter.plot([3, 2, 1])
    assert plotter.draws == 0  # no kernel here
    png = plotter.render_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


class _FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, obj):
        self.updates += 1


def test_plotter_updates_one_display_in_place(monkeypatch):
    import IPython.display

    shown = []

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return _FakeHandle() if display_id else None

    monkeypatch.setattr(mdl.util, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    plotter = mdl.util.PeriodicPlotter(sec=3600, scale="semilogy")
    plotter.plot({"train": [1, 0.5], "test": [1, 0.7]})  # first call draws
    plotter.plot({"train": [1, 0.5, 0.2], "test": [1, 0.7, 0.6]})  # throttled
    assert plotter.draws == 1 and len(shown) == 1
    plotter.finish()  # the final state is always drawn, into the same display
    assert plotter.draws == 2 and len(shown) == 1 and plotter._handle.updates == 1


def test_print_environment_says_cpu_calmly(capsys, recwarn):
    mdl.util.print_environment(("numpy", "tensorflow", "no-such-package"))
    out = capsys.readouterr().out
    assert "numpy " in out and "no-such-package (not installed)" in out
    assert "Device: CPU (" in out and "sized for a CPU" in out
    assert len(out.strip().splitlines()) == 2  # versions, device: nothing else
    assert not [w for w in recwarn if "GPU" in str(w.message)]  # information, not a warning


def test_display_model_falls_back_to_summary(capsys, monkeypatch):
    import shutil

    import keras

    monkeypatch.setattr(shutil, "which", lambda name: None)  # as on a machine without graphviz

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert mdl.util.display_model(model) is None  # a cell ending with the call echoes nothing
    out = capsys.readouterr().out
    assert "Total params" in out and "not installed" not in out


def test_plot_sample_needs_a_face():
    def vae(x):
        return None, None, None, x

    x = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="at least one face"):
        mdl.util.plot_sample(x, np.array([0, 0]), vae)
    import matplotlib

    matplotlib.use("Agg")
    fig = mdl.util.plot_sample(x, np.array([0, 1]), vae)
    assert len(fig.axes) == 2
