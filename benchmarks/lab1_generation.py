"""Lab 1 speed: LSTM training steps and character generation, printed (no assertions).

    .venv/bin/python benchmarks/lab1_generation.py [--quick] [--units 256]

Generation is measured three ways for the same untrained Embedding -> LSTM -> Dense model
(generation speed does not depend on the weights' values):

* ``model.predict`` on a stateful copy, one character per call (what the 2020/21 lab did);
* the stateful copy called eagerly, ``model(x)``;
* one ``tf.function`` step of the LSTM cell with an explicit state (what the notebook does), for
  1 stream and for several streams in parallel.

Its numbers are timings: run it on an otherwise idle machine, or they come out inflated.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

VOCAB = 83  # about the size of the cleaned O'Neill vocabulary
EMBEDDING = 128  # the notebook's default embedding_dim


def build(vocab, emb, units, batch_shape=None, stateful=False):
    inp = tf.keras.Input(batch_shape=batch_shape, dtype="int32") if batch_shape else tf.keras.Input(shape=(None,), dtype="int32")
    return tf.keras.Sequential([
        inp,
        tf.keras.layers.Embedding(vocab, emb),
        tf.keras.layers.LSTM(units, return_sequences=True, stateful=stateful),
        tf.keras.layers.Dense(vocab),
    ])


def timed(fn, n):
    fn()  # warm-up (tracing)
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def bench_training(units, emb, batch, seq, steps):
    model = build(VOCAB, emb, units)
    opt = tf.keras.optimizers.Adam(1e-3, global_clipnorm=5.0)
    x = np.random.randint(0, VOCAB, (batch, seq))
    y = np.random.randint(0, VOCAB, (batch, seq))

    def step_fn(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    compiled = tf.function(step_fn)
    t_fn = timed(lambda: compiled(x, y), steps)
    t_eager = timed(lambda: step_fn(x, y), max(2, steps // 5))
    print(f"train  LSTM {units:4d}, batch {batch}, seq {seq}: tf.function {t_fn:.3f} s/step, eager {t_eager:.3f} s/step ({t_eager / t_fn:.1f}x)")
    return {"units": units, "batch": batch, "seq_length": seq, "tf_function_s_per_step": t_fn, "eager_s_per_step": t_eager}


def bench_generation(units, emb, chars, streams_list):
    model = build(VOCAB, emb, units)
    model(np.zeros((1, 1), np.int32))
    stateful = build(VOCAB, emb, units, batch_shape=(1, 1), stateful=True)
    stateful.set_weights(model.get_weights())
    x = np.zeros((1, 1), np.int32)

    result = {"units": units, "streams": {}}
    n_slow = max(5, chars // 20)
    t_predict = timed(lambda: stateful.predict(x, verbose=0), n_slow)
    print(f"gen    LSTM {units}: model.predict       {1e3 * t_predict:7.2f} ms/char")
    t_eager = timed(lambda: stateful(x), n_slow)
    print(f"gen    LSTM {units}: eager model(x)      {1e3 * t_eager:7.2f} ms/char")
    result.update(predict_ms_per_char=1e3 * t_predict, eager_ms_per_char=1e3 * t_eager)

    embedding, lstm, dense = model.layers

    @tf.function
    def step(ids, h, c, temperature):
        out, (h, c) = lstm.cell(embedding(ids), [h, c])
        nxt = tf.squeeze(tf.random.categorical(dense(out) / temperature, 1), -1)
        return nxt, h, c

    temperature = tf.constant(0.75)
    for streams in streams_list:
        ids = tf.zeros([streams], tf.int64)
        h = tf.zeros([streams, units])
        c = tf.zeros([streams, units])

        def run():
            nonlocal ids, h, c
            ids, h, c = step(ids, h, c, temperature)
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
    tf.keras.utils.set_random_seed(0)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    units = (256,) if quick else tuple(units)
    steps, chars = (3, 100) if quick else (30, 1000)
    training = [bench_training(u, EMBEDDING, 64, 100, steps) for u in units]
    generation = [bench_generation(u, EMBEDDING, chars, (1, 16, 32)) for u in units]
    return {"quick": quick, "embedding_dim": EMBEDDING, "training": training, "generation": generation,
            "repetitions": {"training_steps": steps, "characters": chars}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="LSTM 256 only, few repetitions (about 20 s)")
    parser.add_argument("--units", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    run(quick=args.quick, units=args.units)


if __name__ == "__main__":
    main()
