"""Train the shipped Pong agent: the lab 3 solution notebook's own `train_pong`, for hours, resumable.

    .venv/bin/python benchmarks/lab3_pong_long.py --out results/pong_long --minutes 150
    .venv/bin/python benchmarks/lab3_pong_long.py --out results/pong_long --export   # ship the newest

The notebook's parameters cell with its `full` profile gives every setting (16 games, batches of
4,096 rally steps, Adam 5e-4, entropy bonus 0.01, gamma 0.99: what trained the shipped agent; the
`default` profile's larger steps on smaller batches learn faster in the first million steps, but
were not run for hours); only the step budget is raised. Checkpoints and the
training record (pong_record.csv: agent steps, wall seconds, score and points won over the last
100 games) go to --out; running the same command again resumes from the newest checkpoint, and
the record continues. A run is pinned to the cores given by --cores (default: all), with one
TensorFlow thread per core and that many emulator threads, so that it can be kept off the cores
that other measurements use. --export saves the newest checkpoint as the package's shipped agent
(mitdeeplearning/assets/pong_agent.weights.h5, its layers in pong_agent.json) with its record
(pong_agent.csv).
"""

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "lab3" / "solutions" / "RL_Solution.ipynb"
ASSETS = ROOT / "mitdeeplearning" / "assets"


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
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(len(cores))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(ROOT))
    from mdl_tools import notebook_code

    import mitdeeplearning as mdl
    from mitdeeplearning.rl import describe_layers

    import nbformat

    from mdl_tools import runner

    full = runner.profile_overrides(nbformat.read(NOTEBOOK, as_version=4), "full")
    lab = notebook_code.load(NOTEBOOK, parameters={**full, "pong_agent_steps": args.agent_steps})
    checkpoint_dir = args.out / "pong_checkpoints"
    record = mdl.lab3.TrainingRecord(args.out / "pong_record.csv")
    model = lab.create_pong_model()
    latest, latest_steps = mdl.lab3.latest_checkpoint(checkpoint_dir)
    if latest is not None:
        model.load_weights(latest)
        print(f"resuming from {latest} ({latest_steps} agent steps)", flush=True)
    if args.export:
        if latest is None:
            raise SystemExit(f"no checkpoint in {checkpoint_dir} to export")
        ASSETS.mkdir(exist_ok=True)
        model.save_weights(mdl.lab3.PRETRAINED_PONG)
        mdl.lab3.PRETRAINED_PONG_LAYERS.write_text(json.dumps(describe_layers(model), indent=1) + "\n")
        rows = [r for r in record.rows() if r["agent_steps"] <= latest_steps]
        with open(mdl.lab3.PRETRAINED_PONG_RECORD, "w") as fh:
            fh.write("agent_steps,seconds,games,score,points_won,loss\n")
            for r in rows:
                fh.write(f"{int(r['agent_steps'])},{r['seconds']:.1f},{int(r['games'])},{r['score']:.3f},"
                         f"{r['points_won']:.3f},{r['loss']:.5f}\n")
        print(f"shipped {latest.name} as {mdl.lab3.PRETRAINED_PONG} "
              f"({mdl.lab3.PRETRAINED_PONG.stat().st_size / 1e3:.0f} kB) with {len(rows)} record rows")
        return
    optimizer = tf.keras.optimizers.Adam(lab.pong_learning_rate)
    optimizer.build(model.trainable_variables)

    deadline = time.perf_counter() + 60 * args.minutes
    last_print = [0.0]

    def report(steps, seconds, finished):
        if time.perf_counter() - last_print[0] > 60:
            last_print[0] = time.perf_counter()
            won = sum(finished["won"][-100:]) / max(1, len(finished["won"][-100:]))
            score = sum(finished["score"][-100:]) / max(1, len(finished["score"][-100:]))
            print(f"{seconds / 60:6.1f} min  {steps:>10,d} steps  {len(finished['score']):5d} games  "
                  f"won {won:5.2f}  score {score:+6.2f}", flush=True)
        if time.perf_counter() > deadline:
            raise TimeUp

    envs = mdl.lab3.make_pong_envs(lab.pong_num_games, seed=lab.seed, num_threads=len(cores))
    try:
        lab.train_pong(model, optimizer, envs, args.agent_steps, record, checkpoint_dir, report)
    except TimeUp:
        path = mdl.lab3.save_checkpoint(model, checkpoint_dir, int(record.last()["agent_steps"]))
        print(f"time is up: saved {path}", flush=True)
    finally:
        envs.close()


class TimeUp(Exception):
    """Raised from the update callback when --minutes have passed (after a completed update)."""


if __name__ == "__main__":
    main()
