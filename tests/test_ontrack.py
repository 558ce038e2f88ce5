"""The measured reference of each training loop: reduced from per-seed curves, shipped as JSON, drawn
behind the live plot, and the verdict it gives a finished run (on synthetic curves shaped like each
loop's: a loss that decays, a reward that rises and stops once solved, Pong's points per game)."""

import io
import json
import pathlib
import tomllib

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import mitdeeplearning as mdl  # noqa: E402
from mdl_tools.bench import reference as bench_ref  # noqa: E402
from mitdeeplearning import ontrack  # noqa: E402

# ----------------------------------------------------------------------------- synthetic training runs

# loop -> (x values, start level, final level, time constant in x units, curve knobs, how the notebook smooths y)
SHAPES = {
    "lab1.music.loss": (np.arange(1200.0), 4.4, 1.3, 200.0, {"learning_rate": 1e-2, "num_training_iterations": 1200}, 0.95),
    "lab2.mnist.fc": (np.arange(1.0, 6.0), 2.30, 0.15, 0.7, {"fc_learning_rate": 0.1, "fc_epochs": 5}, 0.0),
    "lab2.mnist.cnn": (np.arange(1.0, 21.0), 2.30, 0.02, 2.0, {"cnn_learning_rate": 2e-3, "cnn_epochs": 20}, 0.0),
    "lab2.mnist.loop": (np.arange(400.0), 2.30, 0.45, 60.0, {"loop_learning_rate": 1e-2, "loop_steps": 400}, 0.95),
    "lab2.debias.cnn": (np.arange(300.0), 0.693, 0.10, 40.0, {"learning_rate": 5e-4, "train_steps": 300}, 0.95),
    "lab2.debias.dbvae": (np.arange(300.0), 1.50, 0.35, 50.0, {"learning_rate": 5e-4, "kl_weight": 5e-4}, 0.95),
    "lab3.cartpole": (np.arange(1500.0), 20.0, 500.0, 160.0, {"cartpole_learning_rate": 3e-3, "cartpole_gamma": 0.99}, 0.95),
    "lab3.pong": (np.arange(2048.0, 1_000_001.0, 2048.0), 0.5, 4.0, 400_000.0, {"pong_learning_rate": 1e-3}, 0.0),
}


UNITS = {"lab2.mnist.fc": "epoch", "lab2.mnist.cnn": "epoch", "lab3.cartpole": "episode", "lab3.pong": "agent step"}
UNITS = {loop: UNITS.get(loop, "step") for loop in SHAPES}


def _ema(values, alpha):
    history = mdl.util.LossHistory(alpha)
    for value in values:
        history.append(value)
    return np.array(history.get())


def run_curve(loop, seed, slow=1.0, kind="learns"):
    """One run as the notebook would record it: (xs, ys), y smoothed as the notebook smooths it.

    kind: "learns" (decays or rises to the final level, time constant scaled by ``slow``), "flat"
    (stays at the start level), "stalls" (gets half way, then stays), "blows_up" (a loss that grows
    to three times its start), "collapses" (learns, then falls back to the start level).
    """
    xs, start, end, tau, _, alpha = SHAPES[loop]
    rng = np.random.default_rng(seed)
    rel = (xs - xs[0]) / (tau * slow * rng.uniform(0.85, 1.15))
    level = {
        "learns": end + (start - end) * np.exp(-rel),
        "flat": np.full_like(xs, start),
        "stalls": start + (end - start) * 0.5 * (1 - np.exp(-4 * rel)),
        "blows_up": start * (1 + 2 * (xs - xs[0]) / (xs[-1] - xs[0])),
        "collapses": start + (end - start) * np.exp(-(((xs - xs[0]) / (xs[-1] - xs[0]) - 0.35) / 0.15) ** 2),
    }[kind]
    noise = rng.normal(0, 0.05 * abs(start - end), len(xs))
    ys = level + noise
    if loop == "lab3.cartpole":  # a reward between 8 and 500 steps; training stops once solved
        ys = np.clip(ys, 8, 500)
        smooth = _ema(ys, alpha)
        solved = np.flatnonzero(smooth >= 475)
        stop = solved[0] + 1 if solved.size else len(xs)
        return xs[:stop], smooth[:stop]
    if loop == "lab3.pong":
        ys = np.clip(ys, 0, 21)
    return xs, (_ema(ys, alpha) if alpha else ys)


def build(loop, profile="default", seeds=(0, 1, 2, 3, 4), settings=None, **overrides):
    xs, start, end, tau, knobs, alpha = SHAPES[loop]
    curves = {seed: run_curve(loop, seed) for seed in seeds}
    kwargs = dict(
        x_label=UNITS[loop], x_unit=UNITS[loop], y_label="loss" if ontrack.LOOPS[loop].better == "lower" else "reward",
        y_unit="nats", y_series="LossHistory(0.95) of the loss per step", settings=settings or knobs,
        seconds_per_unit=0.05, speed_unit="step", machine={"cpu_count": 2, "processor": "test CPU", "gpus": []},
        start=start, after_end="hold" if loop == "lab3.cartpole" else "drop",
        versions={"mitdeeplearning": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"}, date="2026-12-07",
    )
    kwargs.update(overrides)
    return bench_ref.build_reference(loop, profile, curves, **kwargs)


@pytest.fixture(scope="module")
def references():
    return {loop: ontrack.Reference(build(loop)) for loop in SHAPES}


# ----------------------------------------------------------------------------------------- reducer


def test_reducer_median_and_band_are_the_quantiles_of_the_seeds():
    xs = np.arange(50.0)
    offsets = [-2.0, -1.0, 0.0, 1.0, 2.0]
    curves = {i: (xs, np.sin(xs / 7) + d) for i, d in enumerate(offsets)}
    out = bench_ref.reduce_curves(curves)
    np.testing.assert_array_equal(out["grid"], xs)  # the seeds share 50 x values: kept, not interpolated
    np.testing.assert_allclose(out["median"], np.sin(xs / 7))
    np.testing.assert_allclose(out["lower"], np.sin(xs / 7) - 1.6)  # 10 % of the way from -2 to 2 (linear)
    np.testing.assert_allclose(out["upper"], np.sin(xs / 7) + 1.6)
    assert (out["count"] == 5).all()


def test_reducer_interpolates_seeds_with_their_own_x_onto_one_fixed_grid():
    curves = {seed: (np.arange(seed, 1000.0, 7.0 + seed), 3.0 * np.arange(seed, 1000.0, 7.0 + seed) + 1) for seed in range(4)}
    out = bench_ref.reduce_curves(curves, points=60)
    assert len(out["grid"]) == 60 and out["grid"][0] == 2.0  # from where the third seed has begun
    ends = sorted(xs[-1] for xs, _ in curves.values())
    assert out["grid"][-1] == ends[-3]  # to where three seeds still reach
    np.testing.assert_allclose(out["median"], 3 * out["grid"] + 1)  # every seed lies on one line
    np.testing.assert_allclose(out["lower"], out["median"])


def test_reducer_drops_seeds_that_stopped_and_holds_those_that_were_solved():
    xs = np.arange(100.0)
    curves = {0: (xs, xs * 0 + 1), 1: (xs, xs * 0 + 2), 2: (xs, xs * 0 + 3),
              3: (xs[:50], xs[:50] * 0 + 10), 4: (xs[:50], xs[:50] * 0 + 20)}
    drop = bench_ref.reduce_curves(curves, points=100)
    assert drop["grid"][-1] == 99 and list(drop["count"][:50]) == [5] * 50 and list(drop["count"][50:]) == [3] * 50
    assert drop["median"][10] == 3 and drop["median"][80] == 2  # after x=49 only seeds 0-2 count
    hold = bench_ref.reduce_curves(curves, points=100, after_end="hold")
    assert (hold["count"] == 5).all() and hold["median"][80] == 3  # the stopped seeds keep 10 and 20
    few = {**curves, 2: (xs[:50], xs[:50] * 0 + 3)}  # three seeds stop at 49: the grid ends there
    assert bench_ref.reduce_curves(few, points=100)["grid"][-1] == 49


def test_reducer_smooths_as_the_notebook_does():
    xs = np.arange(30.0)
    raw = {seed: (xs, np.random.default_rng(seed).normal(size=30)) for seed in range(3)}
    out = bench_ref.reduce_curves(raw, smoothing=0.9)
    smoothed = np.array([_ema(ys, 0.9) for _, ys in raw.values()])
    np.testing.assert_allclose(out["median"], np.median(smoothed, axis=0))


@pytest.mark.parametrize("curves, message", [
    ({0: ([0, 1, 2], [1, 1, 1]), 1: ([0, 1, 2], [1, 1, 1])}, "at least 3"),
    ({0: ([0, 1, 2], [1, np.nan, 1]), 1: ([0, 1, 2], [1, 1, 1]), 2: ([0, 1, 2], [1, 1, 1])}, "seed 0: y is nan at x=1"),
    ({0: ([0, 2, 1], [1, 1, 1]), 1: ([0, 1, 2], [1, 1, 1]), 2: ([0, 1, 2], [1, 1, 1])}, "strictly increasing"),
    ({0: ([0, 1, 2], [1, 1]), 1: ([0, 1, 2], [1, 1, 1]), 2: ([0, 1, 2], [1, 1, 1])}, "as many x as y"),
    ({0: ([0, 1], [1, 1]), 1: ([0, 1], [1, 1]), 2: ([5, 6], [1, 1])}, "overlap"),
    ({0: ([0, 10], [1, 1]), 1: ([0, 10], [1, 1]), 2: ([0, 2], [1, 1]), 3: ([8, 10], [1, 1])}, "only 2 seed"),
])
def test_reducer_refuses_curves_it_cannot_reduce_honestly(curves, message):
    with pytest.raises(ValueError, match=message):
        bench_ref.reduce_curves(curves)


def test_median_seconds_per_unit_refuses_a_seed_without_time():
    assert bench_ref.median_seconds_per_unit([10, 20, 30], [100, 100, 100]) == 0.2
    with pytest.raises(ValueError, match="positive"):
        bench_ref.median_seconds_per_unit([10, 0, 30], [100, 100, 100])


# ----------------------------------------------------------------------------------- JSON round trip


def test_reference_round_trips_through_its_json_file(tmp_path):
    data = build("lab1.music.loss")
    path = bench_ref.write_reference(data, tmp_path)
    assert path.name == "lab1.music.loss.default.json"
    ref = ontrack.load_reference("lab1.music.loss", "default", directory=tmp_path)
    assert (ref.loop, ref.profile, ref.seeds, ref.after_end) == ("lab1.music.loss", "default", [0, 1, 2, 3, 4], "drop")
    assert ref.settings == {"learning_rate": 0.01, "num_training_iterations": 1200}
    assert ref.data["versions"]["tensorflow"] == "2.21.0" and ref.data["date"] == "2026-12-07"
    assert ref.seconds_per_unit == 0.05 and ref.speed_unit == "step" and ref.start == 4.4
    exact = bench_ref.reduce_curves({s: run_curve("lab1.music.loss", s) for s in range(5)})
    np.testing.assert_allclose(ref.grid, exact["grid"], rtol=1e-6)
    np.testing.assert_allclose(ref.median, exact["median"], rtol=1e-4)  # 5 significant digits kept
    assert (ref.lower <= ref.median).all() and (ref.median <= ref.upper).all()
    assert path.stat().st_size < 12_000


def test_every_loop_at_two_profiles_stays_well_under_a_megabyte(tmp_path):
    for loop in SHAPES:
        for profile in ("default", "smoke"):
            bench_ref.write_reference(build(loop, profile), tmp_path)
    total = sum(p.stat().st_size for p in tmp_path.glob("*.json"))
    assert len(ontrack.list_references(tmp_path)) == 16 and total < 200_000


def test_write_refuses_to_grow_the_references_past_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_ref, "MAX_TOTAL_BYTES", 5_000)
    with pytest.raises(ValueError, match="bytes in all"):
        bench_ref.write_reference(build("lab1.music.loss"), tmp_path)
    assert not list(tmp_path.glob("*.json"))


def test_the_wheel_ships_the_reference_files():
    config = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mitdeeplearning"]
    shipped = pathlib.PurePosixPath("assets/reference/lab3.pong.default.json")  # "assets/*" does not reach into a folder
    assert any(shipped.match(p) for p in patterns), patterns


def test_load_picks_the_profile_whose_settings_match(tmp_path):
    bench_ref.write_reference(build("lab2.mnist.loop"), tmp_path)
    bench_ref.write_reference(build("lab2.mnist.loop", "smoke", settings={"loop_learning_rate": 1e-2, "loop_steps": 40}), tmp_path)
    pick = lambda settings: ontrack.load_reference("lab2.mnist.loop", settings=settings, directory=tmp_path).profile  # noqa: E731
    assert pick(None) == "default"
    assert pick({"loop_learning_rate": 1e-2, "loop_steps": 40, "seed": 3}) == "smoke"
    assert pick({"loop_learning_rate": 1e-3, "loop_steps": 400}) == "default"  # one knob differs: still the closest
    assert pick({"loop_learning_rate": 1e-3}) == "default"  # a tie goes to the default profile


# --------------------------------------------------------------------------------- clear errors


def test_missing_reference_says_what_exists_and_how_to_make_it(tmp_path):
    with pytest.raises(ontrack.ReferenceError, match=r"no reference for lab3.pong.*make bench"):
        ontrack.load_reference("lab3.pong", directory=tmp_path)
    bench_ref.write_reference(build("lab3.pong"), tmp_path)
    with pytest.raises(ontrack.ReferenceError, match=r"'full' profile .*profiles shipped: default"):
        ontrack.load_reference("lab3.pong", "full", directory=tmp_path)
    with pytest.raises(ontrack.ReferenceError, match=r"unknown training loop 'lab3.pong_v2'.*lab3.cartpole"):
        ontrack.load_reference("lab3.pong_v2", directory=tmp_path)


def _broken(change):
    data = build("lab2.debias.cnn")
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("settings"), "missing field.* settings"),
    (lambda d: d.update(format=2), "format 2"),
    (lambda d: d["median"].pop(), "median has 99 values but the grid has 100"),
    (lambda d: d["lower"].__setitem__(5, d["median"][5] + 1), "lower <= median <= upper"),
    (lambda d: d["median"].__setitem__(7, float("nan")), "finite"),
    (lambda d: d["grid"].__setitem__(3, d["grid"][2]), "strictly increasing"),
    (lambda d: d["y"].update(better="higher"), "where lower is better"),
    (lambda d: d.update(start=0.0), "shows no learning"),
    (lambda d: d["speed"].update(seconds_per_unit=-1), "seconds_per_unit"),
    (lambda d: d.update(after_end="keep"), "after_end"),
    (lambda d: d["count"].__setitem__(0, 9), "count"),
    (lambda d: d["upper"].__setitem__(2, "high"), "upper holds something that is not a number"),
    (lambda d: d.update(start="ln 2"), "start must be a finite number"),
])
def test_malformed_reference_names_the_field(change, message):
    with pytest.raises(ontrack.ReferenceError, match=message):
        ontrack.Reference(_broken(change))


def test_malformed_file_on_disk_is_named(tmp_path):
    (tmp_path / "lab3.cartpole.default.json").write_text('{"format": 1, "loop": ')
    with pytest.raises(ontrack.ReferenceError, match=r"lab3.cartpole.default.json is not valid JSON"):
        ontrack.load_reference("lab3.cartpole", "default", directory=tmp_path)
    (tmp_path / "lab3.cartpole.default.json").write_text(json.dumps(build("lab3.pong")))
    with pytest.raises(ontrack.ReferenceError, match=r"holds lab3.pong \(default\), not lab3.cartpole"):
        ontrack.load_reference("lab3.cartpole", "default", directory=tmp_path)


# ----------------------------------------------------------------------------------- the live plot


def _find(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_plot_draws_band_and_median_behind_the_run(references):
    ref = references["lab1.music.loss"]
    plotter = mdl.util.PeriodicPlotter(sec=0, xlabel="iteration", ylabel="loss", reference=ref,
                                       settings={"learning_rate": 0.01, "num_training_iterations": 1200, "seed": 7})
    xs, ys = run_curve("lab1.music.loss", 11)
    plotter.plot(list(ys[:300]))
    fig = plotter.figure()
    (ax,) = fig.axes
    (band,) = _find(ax, "mdl-reference-band")
    (median,) = _find(ax, "mdl-reference-median")
    assert band.get_label() == "reference: 5 seeds, default settings"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["reference: 5 seeds, default settings", "your run"]
    np.testing.assert_allclose(median.get_xdata(), ref.grid)
    vertices = band.get_paths()[0].vertices
    assert vertices[:, 0].min() == ref.grid[0] and vertices[:, 0].max() == ref.grid[-1]
    assert vertices[:, 1].max() == pytest.approx(ref.upper.max())
    run = [line for line in ax.get_lines() if line.get_label() == "your run"][0]
    assert run.get_zorder() > median.get_zorder() > band.get_zorder()  # the run is drawn on top
    assert median.get_linestyle() == "-" and band.get_alpha() == 0.3 and ax.get_title() == ""


def test_the_reports_figures_draw_the_shipped_bands_the_way_the_notebooks_do(tmp_path, monkeypatch):
    """RESULTS.md's reference figures come from the files the notebooks load, through Reference.draw."""
    import matplotlib.pyplot as plt

    from mdl_tools.bench import reference as bench_reference

    drawn = []
    real_draw = ontrack.Reference.draw
    monkeypatch.setattr(ontrack.Reference, "draw", lambda self, ax, *a, **k: drawn.append(
        (self.loop, self.source, real_draw(self, ax, *a, **k))) or drawn[-1][2])
    closed = []
    monkeypatch.setattr(plt, "close", lambda fig: closed.append(fig))
    loops = ["lab2.mnist.cnn", "lab3.pong"]
    name = bench_reference.draw_references(loops, tmp_path / "bands.png")
    assert name == "bands.png" and (tmp_path / "bands.png").read_bytes()[:4] == b"\x89PNG"
    assert [loop for loop, _, _ in drawn] == loops
    for loop, source, (band, median) in drawn:
        shipped = ontrack.load_reference(loop, "default")
        assert source == shipped.source  # the package's own file
        np.testing.assert_allclose(median.get_ydata(), shipped.median)
        assert band.get_label() == shipped.legend()
    (fig,) = closed
    assert [ax.get_legend().get_texts()[0].get_text() for ax in fig.axes] == [
        ontrack.load_reference(loop, "default").legend() for loop in loops]


def test_plot_says_which_knobs_differ_and_draws_the_band_as_a_guide(references):
    ref = references["lab1.music.loss"]
    plotter = mdl.util.PeriodicPlotter(sec=0, title="training", reference=ref,
                                       settings={"learning_rate": 0.001, "num_training_iterations": 1200.0, "checkpoint_every": 5})
    plotter.plot([4.0, 3.0])
    (ax,) = plotter.figure().axes
    (band,) = _find(ax, "mdl-reference-band")
    (median,) = _find(ax, "mdl-reference-median")
    assert band.get_label() == "reference (guide only): 5 seeds, default settings"
    assert "your learning_rate=0.001 (reference 0.01)" in ax.get_title() and ax.get_title().startswith("training\n")
    assert "num_training_iterations" not in ax.get_title()  # 1200.0 is 1200
    assert "checkpoint_every" not in ax.get_title()  # a knob that does not change the curve
    assert median.get_linestyle() == "--" and band.get_alpha() < 0.3


def test_saved_figures_carry_the_band_headless(references, tmp_path):
    from PIL import Image

    plotter = mdl.util.PeriodicPlotter(sec=3600, reference=references["lab3.cartpole"],
                                       settings={"cartpole_learning_rate": 0.03})
    xs, ys = run_curve("lab3.cartpole", 9)
    with plotter:
        plotter.plot({"reward": list(ys), "smoothed": list(ys)})
    assert plotter.draws == 0  # no kernel: nothing displayed, the data kept
    png = Image.open(io.BytesIO(plotter.render_png()))
    assert png.text["mdl-reference"] == "reference (guide only): 5 seeds, default settings"
    assert "cartpole_learning_rate=0.03 (reference 0.003)" in png.text["mdl-reference-note"]
    assert Image.open(plotter.save(tmp_path / "plot.png")).text["mdl-reference"].startswith("reference (guide only)")
    svg = plotter.save(tmp_path / "plot.svg").read_text()
    assert 'id="mdl-reference-band"' in svg and 'id="mdl-reference-median"' in svg


def test_plot_without_reference_draws_as_before():
    plotter = mdl.util.PeriodicPlotter(sec=0, xlabel="step", ylabel="loss")
    plotter.plot([3, 2, 1])
    (ax,) = plotter.figure().axes
    assert not _find(ax, "mdl-reference-band") and ax.get_legend() is None
    assert "mdl-reference" not in __import__("PIL.Image").Image.open(io.BytesIO(plotter.render_png())).text


def test_plot_takes_x_values_and_refuses_ones_that_do_not_pair(references):
    plotter = mdl.util.PeriodicPlotter(sec=3600, xlabel="agent steps", reference=references["lab3.pong"])
    plotter.plot({"points won": [0.5, 0.7, 1.1], "score": [-20, -19, -18]}, x=[2048, 4096, 6144])
    lines = {line.get_label(): line for line in plotter.figure().axes[0].get_lines()}
    np.testing.assert_array_equal(lines["points won"].get_xdata(), [2048, 4096, 6144])
    with pytest.raises(ValueError, match="3 values for 'points won' but 2 x values"):
        plotter.plot({"points won": [0.5, 0.7, 1.1]}, x=[2048, 4096])
    with pytest.raises(ValueError, match="2 values but 3 x values"):
        plotter.plot([1, 2], x=[1, 2, 3])


def test_plot_loads_a_reference_by_loop_id_and_says_when_none_is_shipped(monkeypatch, tmp_path):
    monkeypatch.setattr(ontrack, "REFERENCE_DIR", tmp_path)
    plotter = mdl.util.PeriodicPlotter(sec=2, reference="lab2.mnist.loop")  # none shipped: the run alone, and why
    assert plotter.reference is None and plotter.reference_note.startswith("no reference for lab2.mnist.loop")
    bench_ref.write_reference(build("lab2.mnist.loop"), tmp_path)
    plotter = mdl.util.PeriodicPlotter(sec=2, xlabel="Iterations", ylabel="Loss", scale="semilogy",
                                       reference="lab2.mnist.loop", settings={"loop_steps": 400})
    assert plotter.reference.profile == "default"
    with pytest.raises(TypeError, match="settings must be a dict"):
        mdl.util.PeriodicPlotter(sec=2, reference="lab2.mnist.loop", settings=[("loop_steps", 400)])


def test_plot_with_reference_updates_one_display_in_place(monkeypatch, references):
    import IPython.display

    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    monkeypatch.setattr(mdl.util, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: shown.append(obj) or Handle())
    plotter = mdl.util.PeriodicPlotter(sec=3600, reference=references["lab2.debias.cnn"])
    plotter.plot([0.7, 0.6])
    plotter.plot([0.7, 0.6, 0.5])  # throttled
    plotter.finish()
    assert len(shown) == 1 and len(updates) == 1 and plotter.draws == 2
    assert b"mdl-reference" in updates[0].data  # the PNG's text chunk rides in the displayed image


# -------------------------------------------------------------------------------------- the verdict


@pytest.mark.parametrize("loop", SHAPES)
def test_correct_runs_with_new_seeds_are_on_track(loop, references):
    for seed in range(100, 106):
        xs, ys = run_curve(loop, seed)
        result = ontrack.verdict(loop, xs, ys, references[loop], settings=SHAPES[loop][4])
        assert result.label == "on track", (seed, str(result))
        assert str(result).startswith("Verdict: on track: ") and "\n" not in str(result)
        assert not result.causes


@pytest.mark.parametrize("loop", SHAPES)
def test_a_slow_run_is_slower_but_improving(loop, references):
    xs, ys = run_curve(loop, 200, slow=4.0)
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "slower than the reference but improving", str(result)
    assert "learning rate too small" in str(result) and 0.2 < result.progress < 1 - ontrack.SLACK


@pytest.mark.parametrize("loop", SHAPES)
def test_a_flat_run_is_not_learning_and_names_the_loops_causes(loop, references):
    xs, ys = run_curve(loop, 300, kind="flat")
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "not learning", str(result)
    assert result.causes == ontrack.LOOPS[loop].not_learning
    assert "still near the start level" in result.line
    assert str(result).count("\n  likely cause: ") == len(result.causes)


@pytest.mark.parametrize("loop", SHAPES)
def test_a_run_that_stalls_half_way_is_not_learning(loop, references):
    xs, ys = run_curve(loop, 400, kind="stalls")
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "not learning" and "stalled" in result.line, str(result)


@pytest.mark.parametrize("loop", SHAPES)
def test_nan_is_diverged_with_the_step_it_happened(loop, references):
    xs, ys = run_curve(loop, 500)
    ys = np.array(ys)
    ys[len(ys) // 2:] = np.nan
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "diverged" and f"became nan at {references[loop].x_unit} {xs[len(ys) // 2]:,.0f}" in result.line
    assert result.causes == ontrack.LOOPS[loop].diverged


@pytest.mark.parametrize("loop", [loop for loop in SHAPES if ontrack.LOOPS[loop].better == "lower"])
def test_a_loss_that_blows_up_is_diverged(loop, references):
    xs, ys = run_curve(loop, 600, kind="blows_up")
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "diverged" and "worse than the start level" in result.line, str(result)


@pytest.mark.parametrize("loop", ["lab3.pong", "lab1.music.loss"])
def test_a_run_that_learns_then_collapses_is_diverged(loop, references):
    xs, ys = run_curve(loop, 700, kind="collapses")
    result = ontrack.verdict(loop, xs, ys, references[loop])
    assert result.label == "diverged" and "then fell back" in result.line, str(result)


def test_the_causes_name_each_loops_known_mistakes(references):
    def causes(loop, kind="flat"):
        xs, ys = run_curve(loop, 800, kind="learns" if kind == "inf" else kind)
        ys = np.array(ys)
        if kind == "inf":
            ys[-1] = np.inf
        return str(ontrack.verdict(loop, xs, ys, references[loop]))

    assert "loss's sign" in causes("lab3.cartpole") and "near 20" in causes("lab3.cartpole")
    lab1 = causes("lab1.music.loss")
    assert "ln(vocabulary size)" in lab1 and "shifted by one character" in lab1
    for loop in ("lab2.mnist.fc", "lab2.mnist.cnn"):
        text = causes(loop)
        assert "ln 10" in text and "10 %" in text and "softmax" in text and "learning rate" in text
    assert "advantage's sign" in causes("lab3.pong") and "about 0.5 per game" in causes("lab3.pong")
    assert "learning rate is too large" in causes("lab2.mnist.loop", "inf")
    assert "ln 2" in causes("lab2.debias.cnn") and "mask" in causes("lab2.debias.dbvae")


def test_cartpole_solved_early_is_on_track_and_raw_rewards_judge_alike(references):
    xs, ys = run_curve("lab3.cartpole", 900)
    assert xs[-1] < 1000  # solved, so training stopped
    assert ontrack.verdict("lab3.cartpole", xs, ys, references["lab3.cartpole"]).label == "on track"
    rng = np.random.default_rng(1)  # a student passing the raw episode rewards instead of the smoothed ones
    raw = np.clip(ys + rng.normal(0, 30, len(ys)), 8, 500)
    assert ontrack.verdict("lab3.cartpole", xs, raw, references["lab3.cartpole"]).label == "on track"
    flipped = np.clip(9 + rng.normal(0, 1, 1500), 8, 500)  # the loss's sign flipped: shorter than random
    assert ontrack.verdict("lab3.cartpole", np.arange(1500), flipped, references["lab3.cartpole"]).label == "not learning"


def test_a_reference_whose_slower_seeds_barely_learn_says_the_verdict_is_rough():
    xs = np.arange(30.0)  # a smoke budget: some seeds have hardly started to balance
    smoke = {seed: (xs, 20 + slope * xs) for seed, slope in enumerate([0.05, 0.3, 1.0, 1.5, 2.0])}
    ref = ontrack.Reference(bench_ref.build_reference(
        "lab3.cartpole", "smoke", smoke, x_label="episode", x_unit="episode", y_label="reward", y_unit="steps",
        y_series="EMA 0.95 of the reward", settings={}, seconds_per_unit=None, speed_unit="environment step",
        machine={}, start=20.0, after_end="hold"))
    result = ontrack.verdict("lab3.cartpole", xs, 20 + 0.8 * xs, ref, seconds=3.0, work=900)
    assert result.label == "on track" and any("the verdict is rough" in n for n in result.notes), str(result)
    assert result.speed == "speed: 0.00333 s per environment step (the reference's speed was not measured)"


def test_a_run_stopped_early_is_not_on_track_and_says_so(references):
    xs, ys = run_curve("lab1.music.loss", 1000)
    result = ontrack.verdict("lab1.music.loss", xs[:300], ys[:300], references["lab1.music.loss"],
                             settings={"num_training_iterations": 300})
    assert result.label == "slower than the reference but improving", str(result)
    assert "your run stopped at step 299, the reference went on to 1,199" in str(result)
    assert "your num_training_iterations=300 (reference 1200)" in str(result)


def test_settings_that_differ_are_named_and_the_label_kept(references):
    xs, ys = run_curve("lab2.mnist.loop", 1000)
    result = ontrack.verdict("lab2.mnist.loop", xs, ys, references["lab2.mnist.loop"],
                             settings={"loop_learning_rate": 0.01, "loop_steps": 400, "batch_size": 32})
    assert result.label == "on track" and not result.notes
    result = ontrack.verdict("lab2.mnist.loop", xs, ys, references["lab2.mnist.loop"], settings={"loop_learning_rate": 0.1})
    assert result.label == "on track" and "guide only" in result.notes[0] and "loop_learning_rate=0.1" in result.notes[0]


def test_speed_line_compares_with_the_reference_machine(references):
    xs, ys = run_curve("lab1.music.loss", 1001)
    result = ontrack.verdict("lab1.music.loss", xs, ys, references["lab1.music.loss"], seconds=100.0)
    assert "0.6x the reference's speed (0.0833 s per step against 0.05 s on 2 CPU cores)" in result.speed
    assert str(result).endswith(result.speed)
    xs, ys = run_curve("lab3.cartpole", 1002)
    fast = ontrack.verdict("lab3.cartpole", xs, ys, references["lab3.cartpole"], seconds=10.0, work=400)
    assert "2x the reference's speed" in fast.speed
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        ontrack.verdict("lab3.cartpole", xs, ys, references["lab3.cartpole"], seconds=float("nan"))


@pytest.mark.parametrize("xs, ys, message", [
    ([0, 1, 2], [1.0, 2.0], "3 x values but 2 y values"),
    ([0, 2, 1], [3.0, 2.0, 1.0], "strictly increasing"),
])
def test_verdict_refuses_runs_it_cannot_judge(xs, ys, message, references):
    with pytest.raises(ValueError, match=message):
        ontrack.verdict("lab2.mnist.fc", xs, ys, references["lab2.mnist.fc"])


@pytest.mark.parametrize("xs, ys", [([1], [1.0]), ([], [])])
def test_a_run_too_short_to_have_a_curve_gets_no_verdict_and_is_told_why(xs, ys, references):
    # a knob a student may choose (a Pong budget shorter than one game): the notebook must not crash
    result = ontrack.verdict("lab2.mnist.fc", xs, ys, references["lab2.mnist.fc"], seconds=2.0, work=3)
    assert result.label == "no verdict" and result.label in ontrack.LABELS
    assert result.line == f"No verdict: the run has {len(ys)} point(s) on its curve; a verdict needs at least two (train for more epochs)"


def test_verdict_refuses_another_loops_reference(references):
    with pytest.raises(ontrack.ReferenceError, match="lab2.mnist.cnn's, not lab2.mnist.fc's"):
        ontrack.verdict("lab2.mnist.fc", [1, 2, 3], [1.0, 0.5, 0.3], references["lab2.mnist.cnn"])


def test_rules_are_the_ones_the_docstring_states():
    assert (ontrack.NOT_LEARNING_BELOW, ontrack.SLACK, ontrack.IMPROVING_BY, ontrack.DIVERGED_BELOW,
            ontrack.COLLAPSE_FROM) == (0.2, 0.05, 0.02, -0.5, 0.5)
    doc = ontrack.verdict.__doc__
    for phrase in ("under 0.2", "0.05 below the band", "by 0.02", "by half the reference's", "reaching 0.5"):
        assert phrase in doc


def test_importing_the_package_stays_light():
    import subprocess
    import sys

    code = ("import sys, mitdeeplearning as mdl; mdl.util; import mitdeeplearning.ontrack; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------- where no measured reference can judge


def _pong_at(tmp_path, profile, agent_steps, learns=True, seeds=(0, 1, 2, 3, 4)):
    """A Pong reference measured at ``agent_steps`` (learning from 0.5 towards 4 points, or flat near 0.5)."""
    xs = np.arange(2048.0, agent_steps + 1, 2048.0)
    rise = 3.5 * (1 - np.exp(-xs / 4e5)) if learns else 0.0
    curves = {seed: (xs, 0.5 + rise + np.random.default_rng(seed).normal(0, 0.1, len(xs))) for seed in seeds}
    data = bench_ref.build_reference(
        "lab3.pong", profile, curves, x_label="agent steps", x_unit="agent step", y_label="points won per game",
        y_unit="points", y_series="mean points won per game over the last 100 games",
        settings={"pong_agent_steps": agent_steps, "pong_num_games": 16}, seconds_per_unit=5e-4,
        speed_unit="agent step", machine={"cpu_count": 2}, start=0.5, learns=learns, date="2026-12-07")
    return bench_ref.write_reference(data, tmp_path)


def test_a_budget_beyond_every_reference_has_no_reference_said_in_one_line(tmp_path, monkeypatch):
    _pong_at(tmp_path, "smoke", 2048 * 4, learns=False)
    default = {"pong_agent_steps": 1_000_000, "pong_num_games": 16}
    with pytest.raises(ontrack.NoReference, match=r"your pong_agent_steps=1000000, the longest run measured had 8192 "
                                                   r"\(smoke profile\)"):
        ontrack.load_reference("lab3.pong", settings=default, directory=tmp_path)
    assert ontrack.load_reference("lab3.pong", settings={"pong_agent_steps": 4 * 8192}, directory=tmp_path).profile == "smoke"
    assert issubclass(ontrack.NoReference, ontrack.ReferenceError)

    monkeypatch.setattr(ontrack, "REFERENCE_DIR", tmp_path)
    plotter = mdl.util.PeriodicPlotter(sec=3600, xlabel="agent steps", reference="lab3.pong", settings=default)
    assert plotter.reference is None and "\n" not in plotter.reference_note
    assert plotter.reference_note.startswith("no reference measured for these settings: your pong_agent_steps=1000000")
    assert plotter.reference_note.endswith("your run is drawn alone")
    plotter.plot([0.5, 1.0, 2.0], x=[2048, 4096, 6144])
    (ax,) = plotter.figure().axes
    assert not _find(ax, "mdl-reference-band") and "no reference measured" in ax.get_title()
    from PIL import Image
    png = Image.open(io.BytesIO(plotter.render_png()))
    assert png.text["mdl-reference"] == "none" and png.text["mdl-reference-note"] == plotter.reference_note

    result = ontrack.verdict("lab3.pong", [2048, 4096, 6144], [0.5, 1.0, 2.0], settings=default, seconds=9.0)
    assert result.label == "no verdict" and not result.causes and result.speed == ""
    assert str(result) == ("No verdict: no reference measured for these settings: your pong_agent_steps=1000000, the "
                           "longest run measured had 8192 (smoke profile), too short to compare with; your run is shown alone")
    assert ontrack.verdict("lab3.pong", [2048, 4096], [0.5, float("nan")], settings=default).label == "diverged"


def test_once_a_reference_reaches_the_budget_it_is_the_one_picked(tmp_path):
    _pong_at(tmp_path, "smoke", 2048 * 4, learns=False)
    _pong_at(tmp_path, "default", 2048 * 200)
    # one knob from smoke (the budget) and two from default: still default, the only one that reaches it
    ref = ontrack.load_reference("lab3.pong", settings={"pong_agent_steps": 2048 * 200, "pong_num_games": 2}, directory=tmp_path)
    assert ref.profile == "default" and ref.learns
    assert ontrack.load_reference("lab3.pong", settings={"pong_agent_steps": 2048 * 4}, directory=tmp_path).profile == "smoke"
    with pytest.raises(ontrack.NoReference):
        ontrack.load_reference("lab3.pong", settings={"pong_agent_steps": 2048 * 801}, directory=tmp_path)
    # runs that do not name the budget knob keep picking by the knobs alone
    assert ontrack.load_reference("lab3.pong", settings={"pong_num_games": 16}, directory=tmp_path).profile == "default"


def test_a_reference_too_short_to_learn_draws_its_band_and_gives_no_verdict(tmp_path):
    ref = ontrack.load_reference("lab3.pong", "smoke", directory=_pong_at(tmp_path, "smoke", 2048 * 4, learns=False).parent)
    assert ref.learns is False
    assert ref.legend() == "reference: 5 seeds, smoke settings, too short to learn yet"
    plotter = mdl.util.PeriodicPlotter(sec=3600, reference=ref)
    plotter.plot([0.5, 0.45], x=[4096, 8192])
    assert _find(plotter.figure().axes[0], "mdl-reference-band")
    result = ontrack.verdict("lab3.pong", [4096, 8192], [0.5, 0.45], ref, seconds=4.0)
    assert result.label == "no verdict" and result.line.startswith(
        "No verdict: at this budget even the reference has not started to learn (5 seeds between ")
    assert "start level 0.5); your points won per game 0.45 is inside that band" in result.line
    assert result.line.endswith("A longer budget is needed to judge learning") and result.speed.startswith("speed: ")
    assert ontrack.verdict("lab3.pong", [4096, 8192], [0.5, float("inf")], ref).label == "diverged"


def test_a_reference_that_shows_no_learning_must_say_so():
    flat = {seed: (np.arange(10.0), np.full(10, 20.0)) for seed in range(5)}
    kwargs = dict(x_label="episode", x_unit="episode", y_label="reward", y_unit="steps", y_series="EMA",
                  settings={}, seconds_per_unit=None, speed_unit="environment step", machine={}, start=20.0)
    with pytest.raises(ontrack.ReferenceError, match=r"shows no learning .*\"learns\": false"):
        bench_ref.build_reference("lab3.cartpole", "smoke", flat, **kwargs)
    assert bench_ref.build_reference("lab3.cartpole", "smoke", flat, learns=False, **kwargs)["learns"] is False
    with pytest.raises(ontrack.ReferenceError, match="learns must be true or false"):
        ontrack.Reference(dict(bench_ref.build_reference("lab3.cartpole", "smoke", flat, learns=False, **kwargs), learns="no"))


def test_calm_speed_counts_only_runs_started_on_a_machine_that_was_not_busy(capsys, monkeypatch):
    from mdl_tools.bench import reference

    monkeypatch.setattr(reference.os, "cpu_count", lambda: 2)
    # the busy runs (loads 2.9 and 5.0 on 2 cores: more runnable than cores) are left out: the median
    # of 2 s/100 and 3 s/100 steps
    assert reference.calm_speed([2.0, 3.0, 9.0, 50.0], [100] * 4, [0.5, 2.0, 2.9, 5.0], "loop") == pytest.approx(0.025)
    assert capsys.readouterr().out == ""
    # every run busy or unrecorded: no speed, and a line that says why
    assert reference.calm_speed([2.0, 3.0], [100, 100], [3.5, None], "lab1.music.loss (default)") is None
    line = capsys.readouterr().out
    assert "lab1.music.loss (default): speed not recorded" in line and "3.5, not recorded on 2 cores" in line


# ----------------------------------------------------------------------- the benchmarks' writers


def _lab1_training_benchmark():
    import runpy

    return runpy.run_path(str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "lab1_training.py"),
                          run_name="benchmark")


def test_a_curve_benchmark_measures_each_profile_and_its_writer_reduces_them(tmp_path):
    from mdl_tools.bench import reference as bench_reference

    bench = _lab1_training_benchmark()
    shipped = ontrack.load_reference("lab1.music.loss", "smoke")
    calls = []

    def measure(profile, seeds):  # what the benchmark's own measure returns, with made-up curves
        calls.append((profile, seeds))
        runs = [{"seed": s, "loss_curve": list(np.linspace(4.0, 2.0 + 0.1 * s, 20)), "seconds": 10.0, "steps": 20,
                 "load_average": 9.0} for s in seeds]
        return {"profile": profile, "runs": runs, "knobs": dict(shipped.settings), "smoothing": 0.9, "vocab_size": 83}

    results = bench_reference.measure_profiles("lab1_training", measure, False, 5, None,
                                               {"profiles": ("smoke",), "seeds": [0, 1]})
    assert calls == [("smoke", [0, 1, 2, 3, 4])] and results["benchmark"] == "lab1_training" and results["seconds"] >= 0
    (path,) = bench["write_training_references"](results, directory=tmp_path)
    written = ontrack.load_reference("lab1.music.loss", "smoke", directory=tmp_path)
    assert path.parent == tmp_path and written.seeds == [0, 1, 2, 3, 4]
    assert written.seconds_per_unit is None  # measured on a busy machine (load 9 on this one): no speed
    assert written.start == pytest.approx(np.log(83), abs=1e-4)  # stored rounded
    with pytest.raises(ValueError, match="a quick run measures the code paths"):
        bench["write_training_references"]({**results, "quick": True}, directory=tmp_path)
    with pytest.raises(ValueError, match=r"lab1.music.loss \(smoke\): 5 seed\(s\) measured, a reference needs at least 6"):
        bench["write_training_references"](results, directory=tmp_path, min_seeds=6)
