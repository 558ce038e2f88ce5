"""Lab 1 speed: LSTM training steps and character generation, printed (no assertions).

    .venv/bin/python benchmarks/lab1_generation.py [--quick] [--units 256]

It measures the solution notebook's own code: the cells of
``lab1/solutions/Part2_Music_Generation_Solution.ipynb`` tagged ``reference`` (data, ``build_model``,
``compute_loss``, ``make_train_step``, ``sample_next``, ``make_generation_step``), loaded with
``mdl_tools.notebook_code`` and the notebook's parameters cell, with ``rnn_units`` overridden per
width, and called as the notebook calls them. Training is the notebook's ``train_step`` on one batch
of its data, compiled (as the notebook runs it) and eagerly (its ``python_function``). Generation is
measured three ways for the notebook's untrained model (generation speed does not depend on the
weights' values):

* ``model.predict`` on a stateful clone of the model, one character per call (what the 2020/21 lab did);
* the stateful clone called eagerly, ``model(x)``;
* the notebook's generation step (``make_generation_step(model)``): one ``tf.function`` step of the
  LSTM cell with an explicit state, for 1 stream and for several streams in parallel.

Its numbers are timings: run it on an otherwise idle machine, or they come out inflated.
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # the notebook's progress bars

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "lab1" / "solutions" / "Part2_Music_Generation_Solution.ipynb"


def load_notebook(units):
    """The notebook's reference cells as a module, with an LSTM ``units`` wide (data loaded, model built)."""
    from mdl_tools import notebook_code

    return notebook_code.load(NOTEBOOK, parameters={"rnn_units": units})


def timed(fn, n):
    fn()  # warm-up (tracing)
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def bench_training(nb, steps):
    units, batch, seq = nb.rnn_units, nb.batch_size, nb.seq_length
    x, y = nb.get_batch(nb.vectorize_string(nb.songs_joined, nb.char2idx), seq, batch)
    t_fn = timed(lambda: nb.train_step(x, y), steps)
    t_eager = timed(lambda: nb.train_step.python_function(x, y), max(2, steps // 5))
    print(f"train  LSTM {units:4d}, batch {batch}, seq {seq}: tf.function {t_fn:.3f} s/step, eager {t_eager:.3f} s/step ({t_eager / t_fn:.1f}x)")
    return {"units": units, "batch": batch, "seq_length": seq, "tf_function_s_per_step": t_fn, "eager_s_per_step": t_eager}


def stateful_clone(model):
    """A copy of ``model`` for one stream, one character per call, whose LSTM keeps its state between calls."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.LSTM):
            config["stateful"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, input_tensors=keras.Input(batch_shape=(1, 1), dtype="int32"),
                                    clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def bench_generation(nb, chars, streams_list):
    units = nb.rnn_units
    stateful = stateful_clone(nb.model)
    x = np.zeros((1, 1), np.int32)

    result = {"units": units, "streams": {}}
    n_slow = max(5, chars // 20)
    t_predict = timed(lambda: stateful.predict(x, verbose=0), n_slow)
    print(f"gen    LSTM {units}: model.predict       {1e3 * t_predict:7.2f} ms/char")
    t_eager = timed(lambda: stateful(x), n_slow)
    print(f"gen    LSTM {units}: eager model(x)      {1e3 * t_eager:7.2f} ms/char")
    result.update(predict_ms_per_char=1e3 * t_predict, eager_ms_per_char=1e3 * t_eager)

    temperature = tf.constant(nb.temperature)
    generation_step = nb.make_generation_step(nb.model)
    for streams in streams_list:
        ids = tf.zeros([streams], tf.int64)
        h = tf.zeros([streams, units])
        c = tf.zeros([streams, units])

        def run():
            nonlocal ids, h, c
            ids, h, c = generation_step(ids, h, c, temperature)
            ids.numpy()  # the notebook reads every character back, as a real loop must

        t = timed(run, chars)
        print(f"gen    LSTM {units}: tf.function cell, {streams:2d} stream(s) {1e3 * t:6.2f} ms/step = "
              f"{1e3 * t / streams:6.3f} ms/char, {streams / t:9,.0f} chars/s"
              + (f"  ({t_predict / t:.0f}x faster than predict)" if streams == 1 else ""))
        result["streams"][streams] = {"ms_per_step": 1e3 * t, "ms_per_char": 1e3 * t / streams, "chars_per_s": streams / t}
    result["tf_function_ms_per_char"] = result["streams"][streams_list[0]]["ms_per_char"]
    result["speedup_vs_predict"] = t_predict / (result["tf_function_ms_per_char"] / 1e3)
    return result


def run(quick=False, units=(256, 512)):
    """Measure training and generation speed; print as it goes and return the numbers as a dict.

    ``quick``: the notebook's width only (256), few repetitions. ``mitdeeplearning bench`` calls this.
    """
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    units = (256,) if quick else tuple(units)
    steps, chars = (3, 100) if quick else (30, 1000)
    training, generation = [], []
    for width in units:
        nb = load_notebook(width)  # its parameters cell's seed, set by its seeding cell
        training.append(bench_training(nb, steps))
        generation.append(bench_generation(nb, chars, (1, 16, 32)))
        embedding_dim, vocab_size = nb.embedding_dim, len(nb.vocab)
    return {"quick": quick, "embedding_dim": embedding_dim, "vocab_size": vocab_size, "training": training,
            "generation": generation, "repetitions": {"training_steps": steps, "characters": chars}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="LSTM 256 only, few repetitions (about 30 s)")
    parser.add_argument("--units", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    run(quick=args.quick, units=args.units)


if __name__ == "__main__":
    main()
