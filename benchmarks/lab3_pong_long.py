"""Train the shipped Pong agent: the lab 3 solution notebook's own `run_pong`, for hours, resumable.

    .venv/bin/python benchmarks/lab3_pong_long.py --out results/pong_long --minutes 150
    .venv/bin/python benchmarks/lab3_pong_long.py --out results/pong_long --export   # ship the newest

The notebook's parameters cell with its `full` profile gives every setting (the games, the batch of
rally steps per update, the Adam step, the entropy bonus, the discount: what trained the shipped
agent; the `default` profile's smaller batches learn faster in the first million steps, but were
not run for hours); only the step budget is raised, and `pong_resume` is on. Checkpoints and the
training record (pong_record.csv: agent steps, wall seconds, score and points won over the last
100 games) go to --out, where `run_pong` puts them; running the same command again resumes from
the newest checkpoint, and the record continues. A run is pinned to the cores given by --cores
(default: all), with one TensorFlow thread per core and that many emulator threads, so that it can
be kept off the cores that other measurements use. --export saves the newest checkpoint as the
package's shipped agent (mitdeeplearning/assets/pong_agent.weights.h5, its layers in
pong_agent.json) with its record (pong_agent.csv).
"""

import argparse
import json
import os
import pathlib
import time

import nbformat

from mdl_tools import notebook_code, runner

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab3" / "solutions" / "RL_Solution.ipynb"
ASSETS = ROOT / "mitdeeplearning" / "assets"


def export(lab, out):
    """Ship the newest checkpoint in ``out`` as the package's agent, with its record up to that checkpoint."""
    import mitdeeplearning as mdl
    from mitdeeplearning.rl import describe_layers

    latest, latest_steps = mdl.lab3.latest_checkpoint(out / "pong_checkpoints")
    if latest is None:
        raise SystemExit(f"no checkpoint in {out / 'pong_checkpoints'} to export")
    env = mdl.lab3.make_env(mdl.lab3.PONG_ENV_NAME)
    try:
        model = lab.create_pong_model(int(env.action_space.n))
    finally:
        env.close()
    model.load_weights(latest)
    ASSETS.mkdir(exist_ok=True)
    model.save_weights(mdl.lab3.PRETRAINED_PONG)
    mdl.lab3.PRETRAINED_PONG_LAYERS.write_text(json.dumps(describe_layers(model), indent=1) + "\n")
    rows = [r for r in mdl.lab3.TrainingRecord(out / "pong_record.csv").rows() if r["agent_steps"] <= latest_steps]
    with open(mdl.lab3.PRETRAINED_PONG_RECORD, "w") as fh:
        fh.write("agent_steps,seconds,games,score,points_won,loss\n")
        for r in rows:
            fh.write(f"{int(r['agent_steps'])},{r['seconds']:.1f},{int(r['games'])},{r['score']:.3f},"
                     f"{r['points_won']:.3f},{r['loss']:.5f}\n")
    print(f"shipped {latest.name} as {mdl.lab3.PRETRAINED_PONG} "
          f"({mdl.lab3.PRETRAINED_PONG.stat().st_size / 1e3:.0f} kB) with {len(rows)} record rows")


def reporter(minutes):
    """``on_update`` for run_pong: a progress line a minute; True (stop) once ``minutes`` have passed."""
    deadline = time.perf_counter() + 60 * minutes
    last_print = [0.0]

    def report(steps, seconds, finished):
        if time.perf_counter() - last_print[0] > 60:
            last_print[0] = time.perf_counter()
            won = sum(finished["won"][-100:]) / max(1, len(finished["won"][-100:]))
            score = sum(finished["score"][-100:]) / max(1, len(finished["score"][-100:]))
            print(f"{seconds / 60:6.1f} min  {steps:>10,d} steps  {len(finished['score']):5d} games  "
                  f"won {won:5.2f}  score {score:+6.2f}", flush=True)
        if time.perf_counter() > deadline:
            print("time is up: stopping after this update (the checkpoint is saved)", flush=True)
            return True
        return False

    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="checkpoints and record")
    parser.add_argument("--minutes", type=float, default=150.0, help="stop after this much training in this call")
    parser.add_argument("--agent-steps", type=int, default=50_000_000, help="total step budget")
    parser.add_argument("--cores", default=None, help="CPU cores to run on, e.g. '1' or '0,1' (default: all)")
    parser.add_argument("--export", action="store_true", help="ship the newest checkpoint and its record; no training")
    args = parser.parse_args()

    cores = sorted({int(c) for c in args.cores.split(",")}) if args.cores else sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cores)
    full = runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), "full")
    lab = notebook_code.load(NOTEBOOK, parameters={**full, "pong_agent_steps": args.agent_steps, "pong_resume": True})
    if args.export:
        export(lab, args.out)
        return
    import tensorflow as tf

    # after the notebook's setup cell (which asks for one thread), before TensorFlow's first operation
    tf.config.threading.set_intra_op_parallelism_threads(len(cores))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    lab.run_pong(lab.pong_config, args.out, on_update=reporter(args.minutes), num_threads=len(cores))


if __name__ == "__main__":
    main()
