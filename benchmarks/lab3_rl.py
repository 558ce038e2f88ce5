"""Lab 3 benchmark: Cart-Pole time-to-solve over seeds, and Pong rollout throughput.

    .venv/bin/python benchmarks/lab3_rl.py            # 5 Cart-Pole seeds, full Pong comparison
    .venv/bin/python benchmarks/lab3_rl.py --quick    # 1 seed, shorter Pong rollouts

Part 1 trains REINFORCE on CartPole-v1 exactly as the notebook's default profile does (MLP 32,
Adam 3e-3, gamma 0.99, one intra-op thread, compiled per-step policy call) and prints, per seed,
the episodes and seconds until the mean reward of the last 100 episodes reaches 475.
Part 2 measures Pong env steps per second of rollout collection with the notebook's CNN policy:
the batched collector (one gymnasium vector env, one compiled policy call per step for all games)
next to the old way (a list of envs, one ``model.predict`` per env per step), in the same run.
Run it under the shared lock on a shared machine: ``flock /tmp/mdl-heavy.lock .venv/bin/python ...``.
"""

import argparse
import os
import platform
import time

import numpy as np
import tensorflow as tf

# Must come before TensorFlow's first operation, as in the notebook.
tf.config.threading.set_intra_op_parallelism_threads(1)

import keras  # noqa: E402

from mitdeeplearning import rl  # noqa: E402


def compute_loss(logits, actions, rewards):
    neg_logprob = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)
    return tf.reduce_mean(neg_logprob * rewards)


@tf.function(reduce_retracing=True)
def train_step(model, optimizer, observations, actions, discounted_rewards):
    with tf.GradientTape() as tape:
        loss = compute_loss(model(observations, training=True), actions, discounted_rewards)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def cartpole_time_to_solve(seed, max_seconds, max_episodes=3000, gamma=0.99, learning_rate=3e-3, units=32):
    keras.utils.set_random_seed(seed)
    env = rl.make_env("CartPole-v1", seed=seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2)])
    policy = rl.NumpyPolicy(model)  # as the notebook: NumPy forward pass, refreshed after each update
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    memory = rl.Memory()
    rewards = []
    start = time.perf_counter()
    try:
        for episode in range(max_episodes):
            observation, _ = env.reset()
            memory.clear()
            done = False
            while not done:
                action = rl.sample_actions(policy, observation, single=True)
                next_observation, reward, terminated, truncated, _ = env.step(action)
                memory.add_to_memory(observation, action, reward)
                observation, done = next_observation, terminated or truncated
            train_step(
                model,
                optimizer,
                np.vstack(memory.observations).astype(np.float32),
                np.array(memory.actions, dtype=np.int32),
                rl.normalize(rl.discount_rewards(memory.rewards, gamma)),
            )
            policy.refresh()
            rewards.append(sum(memory.rewards))
            if len(rewards) >= 100 and np.mean(rewards[-100:]) >= 475:
                return episode + 1, time.perf_counter() - start, int(sum(rewards))
            if time.perf_counter() - start > max_seconds:
                break
    finally:
        env.close()
    return None, time.perf_counter() - start, int(sum(rewards))


def create_pong_model(n_actions=6):
    # the notebook's policy: DQN-style strided convolutions, ~1 M multiply-adds per frame
    return keras.Sequential(
        [
            keras.Input((80, 80, 1)),
            keras.layers.Conv2D(16, 8, strides=4, activation="relu"),
            keras.layers.Conv2D(32, 4, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(n_actions),
        ]
    )


def batched_throughput(model, num_envs, steps, backend):
    envs = rl.make_pong_envs(num_envs, backend=backend, seed=0)
    try:
        rl.parallelized_collect_rollout(num_envs, envs, model, max_steps=5)  # compile the policy call
        start = time.perf_counter()
        memories = rl.parallelized_collect_rollout(num_envs, envs, model, max_steps=steps)
        seconds = time.perf_counter() - start
    finally:
        envs.close()
    return sum(len(m) for m in memories) / seconds


def per_step_predict_throughput(model, num_envs, steps):
    envs = [rl.make_env(rl.PONG_ENV_NAME, seed=s) for s in range(num_envs)]
    try:
        rl.collect_rollout_per_step(envs, model, max_steps=2)  # warm up predict
        start = time.perf_counter()
        memories = rl.collect_rollout_per_step(envs, model, max_steps=steps)
        seconds = time.perf_counter() - start
    finally:
        for env in envs:
            env.close()
    return sum(len(m) for m in memories) / seconds


def raw_env_throughput(steps=2000):
    env = rl.make_env(rl.PONG_ENV_NAME, seed=0)
    try:
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 Cart-Pole seed and short Pong rollouts")
    parser.add_argument("--seeds", type=int, default=None, help="number of Cart-Pole seeds (default 5, quick 1)")
    parser.add_argument("--skip-cartpole", action="store_true")
    parser.add_argument("--skip-pong", action="store_true")
    args = parser.parse_args()
    seeds = args.seeds or (1 if args.quick else 5)

    print(f"machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
          f"TF {tf.__version__}, Keras {keras.__version__}, intra-op threads 1")

    if not args.skip_cartpole:
        print("\n== Cart-Pole REINFORCE: time to mean-100 >= 475 (MLP 32, Adam 3e-3, gamma 0.99) ==")
        times = []
        for seed in range(seeds):
            episodes, seconds, steps = cartpole_time_to_solve(seed, max_seconds=60 if args.quick else 150)
            status = f"solved in {episodes} episodes" if episodes else "NOT solved"
            print(f"seed {seed}: {status}, {seconds:.1f} s, {steps} env steps ({steps / seconds:.0f} steps/s)", flush=True)
            times.append(seconds if episodes else float("inf"))
        within = sum(t <= 120 for t in times)
        solved = [t for t in times if np.isfinite(t)]
        print(f"CARTPOLE solved within 120 s in {within}/{seeds} seeds; "
              f"median time-to-solve {np.median(times):.1f} s; solved times {[round(t, 1) for t in solved]}")

    if not args.skip_pong:
        steps = 100 if args.quick else 300
        predict_steps = 10 if args.quick else 30
        print("\n== Pong rollout throughput (env steps/s, CNN policy, frame differences) ==")
        model = create_pong_model()
        print(f"raw ALE/Pong-v5 env, random actions, no policy: {raw_env_throughput():.0f} steps/s")
        results = {}
        for num_envs, backend in ((8, "ale"), (16, "ale"), (16, "sync")):
            rate = batched_throughput(model, num_envs, steps, backend)
            results[(num_envs, backend)] = rate
            print(f"batched vector env ({backend:>4}, {num_envs:2d} games, 1 compiled call/step): {rate:7.0f} steps/s", flush=True)
        baseline = per_step_predict_throughput(model, 8, predict_steps)
        print(f"per-env per-step model.predict (8 games):                   {baseline:7.0f} steps/s")
        best_key = max(results, key=results.get)
        best = results[best_key]
        print(f"PONG batched {best:.0f} env steps/s ({best_key[1]}, {best_key[0]} games) vs per-step predict "
              f"{baseline:.0f} env steps/s: {best / baseline:.0f}x; target 2500 steps/s "
              f"{'met' if best >= 2500 else 'NOT met'}")


if __name__ == "__main__":
    main()
