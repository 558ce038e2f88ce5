"""Lab 1 section of the report: the music notebook's training and tunes, generation speed."""

from . import common
from .reference import REFERENCE_CAPTION, draw_references

NOTEBOOK = "lab1/solutions/Part2_Music_Generation_Solution.ipynb"


def measure(quick, work_dir, figures, log=print):
    profile = "smoke" if quick else "default"
    run, nb = common.run_notebook(NOTEBOOK, profile, work_dir, log)
    r = common.notebook_result(nb, ("training_steps", "training_seconds", "seconds_per_step", "final_loss",
                                    "tunes", "playable", "metrically_sound"), NOTEBOOK)
    names = [common.save_figure_from_notebook(nb, tag, figures / f"lab1_{tag.split(':')[1]}.png", not quick, log)
             for tag in ("figure:loss_curve", "figure:piano_roll")]
    generation = common.run_benchmark("lab1_generation.py", quick, log)
    if quick:
        log("  the training loss's reference band: measured by the full bench only")
    else:  # what the notebook's live plot draws behind the student's loss, and judges it against
        training = common.run_benchmark("lab1_training.py", quick, log)
        for path in common.benchmark_module("lab1_training.py")["write_training_references"](training):
            log(f"  wrote {path.relative_to(common.repository_root())}")
    names.append(draw_references(["lab1.music.loss"], figures / "lab1_references.png"))
    return {
        "notebook": {"path": NOTEBOOK, "profile": profile, "seconds": run.seconds, "training_steps": r["training_steps"],
                     "training_seconds": r["training_seconds"], "seconds_per_step": r["seconds_per_step"],
                     "final_loss": r["final_loss"], "tunes": r["tunes"], "playable": r["playable"],
                     "metrically_sound": r["metrically_sound"]},
        "generation": generation,
        "figures": [n for n in names if n],
    }


def render(s, fig):
    nb, gen = s["notebook"], s["generation"]
    g256 = next((g for g in gen["generation"] if g["units"] == 256), gen["generation"][0])
    t256 = next((t for t in gen["training"] if t["units"] == 256), gen["training"][0])
    n = max(nb["tunes"], 1)
    return [
        "", "## Lab 1: music generation (Part 2)", "",
        *_what_good_looks_like(nb, gen["vocab_size"]), "",
        f"| `{nb['profile']}` profile | measured |", "|---|---|",
        f"| whole notebook | {nb['seconds']:.0f} s ({nb['seconds'] / 60:.1f} min) |",
        f"| training | {nb['training_steps']} steps in {nb['training_seconds']:.0f} s ({nb['seconds_per_step']:.3f} s/step) |",
        f"| final loss (smoothed) | {nb['final_loss']:.3f} |",
        f"| generated tunes playable | {nb['playable']}/{nb['tunes']} ({100 * nb['playable'] / n:.0f} %) |",
        f"| metrically sound | {nb['metrically_sound']}/{nb['tunes']} ({100 * nb['metrically_sound'] / n:.0f} %) |",
        f"| generation, `tf.function` LSTM cell (1 stream) | {g256['tf_function_ms_per_char']:.2f} ms/char |",
        f"| generation, `model.predict` per character | {g256['predict_ms_per_char']:.1f} ms/char "
        f"(**{g256['speedup_vs_predict']:.0f}×** slower, same run) |",
        f"| generation, 32 streams in one batch | {g256['streams']['32']['chars_per_s']:,.0f} chars/s |",
        f"| one training step, `tf.function` vs eager | {t256['tf_function_s_per_step']:.3f} s vs {t256['eager_s_per_step']:.3f} s |",
        "", common.stamp(s) + f" Generation: LSTM {g256['units']}, embedding {gen['embedding_dim']}.", "",
        *common.images(s, fig, {"lab1_loss_curve.png": "training loss", "lab1_piano_roll.png": "piano roll of a generated tune",
                                    "lab1_references.png": REFERENCE_CAPTION}),
    ]



def _what_good_looks_like(nb, vocab_size):
    """The section's reading guide, from this run's numbers."""
    import math

    n = max(nb["tunes"], 1)
    return [
        f"**What good looks like.** An untrained model's loss is ln(vocabulary size) = ln({vocab_size}) ≈ "
        f"{math.log(vocab_size):.1f}, what guessing every character evenly costs; training should bring it several",
        f"times lower (this run: {nb['final_loss']:.2f} after {nb['training_steps']} steps of the `{nb['profile']}` profile).",
        f"Most generated tunes should play ({nb['playable']} of {nb['tunes']} here) and many keep their meter "
        f"({100 * nb['metrically_sound'] / n:.0f} % here). Garbled bars early in training are normal.",
    ]
