"""Lab 3's references against the notebook that draws them.

The shipped Cart-Pole and Pong references must have been measured with the knobs the notebook hands
its loops at that profile (a drift test that fails when either side moves); the notebook's smoke run
draws the band and prints a verdict headless; and real Cart-Pole training runs of the notebook's own
code, each with a mistake that passes its check (or a knob set badly), leave "on track" while
correct runs with seeds the reference never saw stay on track.

The mistakes run at the ``default`` budget (training stops once solved, at most
``cartpole_max_episodes``): the smoke budget (20 episodes) ends before any seed learns, and at any
short fixed budget correct seeds cannot be told from broken ones, because when a seed's reward
starts to climb varies from about 100 to over 300 episodes.
"""

import base64
import io
import pathlib

import nbformat
import numpy as np
import pytest

from mdl_tools import notebook_code, runner
from mitdeeplearning import ontrack

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab3" / "solutions" / "RL_Solution.ipynb"
RL = "lab3/solutions/RL_Solution.ipynb"
#: loop -> the notebook's config object whose settings() the notebook hands the plot and the verdict
CONFIGS = {"lab3.cartpole": "cartpole_config", "lab3.pong": "pong_config"}
#: what must ship (the default Pong reference takes 45 min of 2 cores and is added when measured)
REQUIRED = {("lab3.cartpole", "default"), ("lab3.cartpole", "smoke"), ("lab3.pong", "smoke")}
SHIPPED = sorted((loop, profile) for loop, profile in ontrack.list_references() if loop in CONFIGS)


def reference_drift(notebook, loop, profile, directory=None):
    """What differs between the shipped reference of ``loop`` at ``profile`` and the notebook at that
    profile: knob values, knobs only one side names, the Cart-Pole curve's smoothing. [] when none."""
    ref = ontrack.load_reference(loop, profile, directory=directory)
    overrides = runner.profile_overrides(nbformat.read(notebook, as_version=4), profile)
    lab = notebook_code.load(notebook, parameters=overrides)
    settings = getattr(lab, CONFIGS[loop]).settings()
    problems = [f"{knob}: the notebook has {mine!r}, the reference {theirs!r}"
                for knob, mine, theirs in ref.differences(settings)]
    problems += [f"{knob}: the notebook's loop takes it, the reference does not record it"
                 for knob in sorted(settings.keys() - ref.settings.keys())]
    problems += [f"{knob}: the reference records it, the notebook's loop does not take it"
                 for knob in sorted(ref.settings.keys() - settings.keys())]
    if loop == "lab3.cartpole" and f"LossHistory({lab.REWARD_SMOOTHING})" not in ref.data["y"]["series"]:
        problems.append(f"the notebook smooths the reward with {lab.REWARD_SMOOTHING}, the reference's series is "
                        f"{ref.data['y']['series']!r}")
    return problems


# ------------------------------------------------------------------------------ drift with the notebook


def test_the_lab3_references_ship():
    assert REQUIRED <= set(SHIPPED), f"missing: {sorted(REQUIRED - set(SHIPPED))}; `make bench` measures them"
    for loop, profile in SHIPPED:
        ref = ontrack.load_reference(loop, profile)
        assert len(ref.seeds) >= 5 and ref.learns == (profile != "smoke"), (loop, profile)
        # a speed only where the runs were measured on a calm machine (benchmarks' calm_speed); never zero
        assert (ref.seconds_per_unit is None or ref.seconds_per_unit > 0) and ref.data["machine"]["cpu_count"] >= 1


@pytest.mark.parametrize("loop, profile", SHIPPED)
def test_each_shipped_reference_was_measured_with_the_notebooks_knobs(loop, profile):
    problems = reference_drift(NOTEBOOK, loop, profile)
    assert not problems, (f"{loop} ({profile}) and {RL} have drifted apart:\n  " + "\n  ".join(problems)
                          + "\nmeasure it again: .venv/bin/python benchmarks/lab3_rl.py --parts cartpole,smoke "
                            "--write-references (Pong default: --parts pong --seeds 5 --write-references)")


def _edited_notebook(tmp_path, parameters=None, smoke=None):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for old, new in (parameters or {}).items():
        assert cell.source.count(old) == 1, old
        cell.source = cell.source.replace(old, new)
    cell.metadata["mdl"]["profiles"]["smoke"].update(smoke or {})
    path = tmp_path / "RL_Solution.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_drift_test_fails_when_the_notebook_moves(tmp_path):
    moved = _edited_notebook(tmp_path, {"cartpole_learning_rate = 3e-3": "cartpole_learning_rate = 1e-3"})
    assert reference_drift(moved, "lab3.cartpole", "default") == [
        "cartpole_learning_rate: the notebook has 0.001, the reference 0.003"]
    moved = _edited_notebook(tmp_path, smoke={"pong_agent_steps": 3000})
    assert reference_drift(moved, "lab3.pong", "smoke") == ["pong_agent_steps: the notebook has 3000, the reference 4000"]


def test_the_drift_test_fails_when_the_reference_moves(tmp_path):
    import json

    for loop, profile in (("lab3.cartpole", "default"), ("lab3.pong", "smoke")):
        data = json.loads((ontrack.REFERENCE_DIR / f"{loop}.{profile}.json").read_text())
        knob = sorted(data["settings"])[0]
        data["settings"].pop(knob)
        data["settings"]["cartpole_batch_size" if loop == "lab3.cartpole" else "pong_frameskip"] = 4
        (tmp_path / f"{loop}.{profile}.json").write_text(json.dumps(data))
        problems = reference_drift(NOTEBOOK, loop, profile, directory=tmp_path)
        assert len(problems) == 2 and problems[0].startswith(f"{knob}: the notebook's loop takes it"), problems
    data = json.loads((ontrack.REFERENCE_DIR / "lab3.cartpole.default.json").read_text())
    data["y"]["series"] = data["y"]["series"].replace("LossHistory(0.95)", "LossHistory(0.9)")
    (tmp_path / "lab3.cartpole.default.json").write_text(json.dumps(data))
    assert "smooths the reward with 0.95" in reference_drift(NOTEBOOK, "lab3.cartpole", "default", directory=tmp_path)[0]


# ----------------------------------------------------------------------- the notebook's run, headless


def _png_text(output):
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"]))).text


def _cell_outputs(nb, marker):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    return images, text


def test_the_smoke_run_draws_each_band_and_prints_each_verdict(smoke_run):
    result = smoke_run(RL)
    assert result.status == "ok", result.error
    nb = nbformat.read(result.output, as_version=4)
    for loop, marker in (("lab3.cartpole", "run_cartpole(cartpole_config"), ("lab3.pong", "run_pong(pong_config")):
        images, text = _cell_outputs(nb, marker)
        assert len(images) == 1, f"{loop}: one live plot, updated in place; found {len(images)} images"
        seeds = len(ontrack.load_reference(loop, "smoke").seeds)
        chunk = _png_text(images[0])
        assert chunk["mdl-reference"] == f"reference: {seeds} seeds, smoke settings, too short to learn yet", chunk
        assert chunk["mdl-reference-note"] == ""  # the smoke run's knobs are the reference's
        verdicts = [line for line in text.splitlines() if line.startswith(("Verdict: ", "No verdict: "))]
        assert verdicts == [next(line for line in text.splitlines() if "even the reference has not started" in line)]
        measured = ontrack.load_reference(loop, "smoke").seconds_per_unit is not None
        assert ("speed: your machine ran this at" if measured else "(the reference's speed was not measured)") in text


def test_the_saved_cartpole_figure_carries_the_band(tmp_path):
    import mitdeeplearning as mdl

    lab = notebook_code.load(NOTEBOOK)
    plotter = mdl.util.PeriodicPlotter(sec=3600, xlabel="episode", reference="lab3.cartpole",
                                       settings=lab.cartpole_config.settings())
    ref = plotter.reference
    assert ref.profile == "default" and not ref.differences(lab.cartpole_config.settings())
    plotter.plot({"reward": [20.0, 30.0, 25.0], "smoothed": [20.0, 20.5, 20.7]}, x=range(1, 4))
    svg = plotter.save(tmp_path / "cartpole.svg").read_text()
    assert 'id="mdl-reference-band"' in svg and 'id="mdl-reference-median"' in svg
    from PIL import Image

    png = Image.open(plotter.save(tmp_path / "cartpole.png"))
    assert png.text["mdl-reference"] == f"reference: {len(ref.seeds)} seeds, default settings"


def test_pong_at_a_budget_no_reference_reaches_says_so_in_the_plot_and_the_verdict():
    import mitdeeplearning as mdl

    lab = notebook_code.load(NOTEBOOK, parameters={"pong_agent_steps": 50_000_000})
    settings = lab.pong_config.settings()
    plotter = mdl.util.PeriodicPlotter(sec=3600, reference="lab3.pong", settings=settings)
    assert plotter.reference is None
    assert plotter.reference_note.startswith("no reference measured for these settings: your pong_agent_steps=50000000")
    result = ontrack.verdict("lab3.pong", [2048, 4096], [0.5, 0.6], settings=settings, seconds=10.0)
    assert result.label == "no verdict" and str(result).startswith("No verdict: no reference measured")


# ------------------------------------------------------ real training runs: mistakes that pass their checks

def _flipped(compute_loss):
    return lambda logits, actions, rewards: -compute_loss(logits, actions, rewards)


#: label -> (parameter overrides, {notebook name: replacement(notebook module)}, what its check says)
MISTAKES = {
    "learning rate 10x too small": ({"cartpole_learning_rate": 3e-4}, {}, "no check: a knob"),
    "returns not normalised": ({}, {"normalize": lambda lab: lambda x: np.asarray(x, np.float32)},
                               "no check: train_cartpole's code, not a TODO"),
    "too few episodes": ({"cartpole_max_episodes": 150}, {}, "no check: a knob"),
    "loss's sign flipped": ({}, {"compute_loss": lambda lab: _flipped(lab.compute_loss)},
                            "check_compute_loss rejects it ('wrong sign'); run anyway"),
}


def train_cartpole_run(seed=0, parameters=None, swaps=None):
    """The notebook's own Cart-Pole run, as its training cell runs it; returns the verdict."""
    import time

    from mitdeeplearning.util import LossHistory

    lab = notebook_code.load(NOTEBOOK, parameters={"seed": seed, **(parameters or {})})
    for name, make in (swaps or {}).items():
        setattr(lab, name, make(lab))
    smoothed = LossHistory(lab.REWARD_SMOOTHING)
    start = time.perf_counter()
    _, rewards, _ = lab.run_cartpole(lab.cartpole_config, on_episode=lambda r: smoothed.append(r[-1]))
    seconds = time.perf_counter() - start
    return ontrack.verdict("lab3.cartpole", range(1, len(rewards) + 1), smoothed.get(),
                           settings=lab.cartpole_config.settings(), seconds=seconds, work=sum(rewards))


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_cartpole_mistake_that_trains_badly_leaves_on_track(mistake):
    parameters, swaps, _ = MISTAKES[mistake]
    result = train_cartpole_run(1, parameters, swaps)
    print(f"\n{mistake}: {result}")
    assert result.label != "on track", f"{mistake}: {result}"
    assert result.label in ontrack.LABELS and result.label != "no verdict"


@pytest.mark.parametrize("seed", [10, 11])
def test_a_correct_cartpole_run_with_a_seed_the_reference_never_saw_is_on_track(seed):
    assert seed not in ontrack.load_reference("lab3.cartpole", "default").seeds
    result = train_cartpole_run(seed)
    print(f"\ncorrect, seed {seed}: {result}")
    assert result.label == "on track", str(result)
