"""Lab 3 benchmark: Cart-Pole time-to-solve over seeds, and Pong rollout throughput.

    .venv/bin/python benchmarks/lab3_rl.py            # 5 Cart-Pole seeds, full Pong comparison
    .venv/bin/python benchmarks/lab3_rl.py --quick    # 1 seed (20 s cap), short Pong rollouts

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
                return episode + 1, time.perf_counter() - start, rewards
            if time.perf_counter() - start > max_seconds:
                break
    finally:
        env.close()
    return None, time.perf_counter() - start, rewards


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


def emulator_only_throughput(num_envs, steps):
    """The vector env alone, random actions, no policy and no pre-processing: the ceiling."""
    envs = rl.make_pong_envs(num_envs, seed=0)
    try:
        envs.reset()
        start = time.perf_counter()
        for _ in range(steps):
            envs.step(np.random.randint(0, 6, num_envs).astype(np.int64))
        return num_envs * steps / (time.perf_counter() - start)
    finally:
        envs.close()


def policy_ms_per_batch(model, num_envs, repeats=50):
    policy = rl.CompiledPolicy(model)
    x = np.random.choice([-1.0, 0.0, 1.0], size=(num_envs, 80, 80, 1)).astype(np.float32)
    policy(x)
    start = time.perf_counter()
    for _ in range(repeats):
        policy(x)
    return 1e3 * (time.perf_counter() - start) / repeats


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


def run(quick=False, seeds=None):
    """Run both parts; print as it goes and return the numbers as a dict (``mitdeeplearning bench``).

    ``quick``: 1 Cart-Pole seed capped at 20 s and short Pong rollouts, to test the code itself.
    """
    seeds = seeds or (1 if quick else 5)
    machine = {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "tensorflow": tf.__version__, "keras": keras.__version__, "intra_op_threads": 1}
    print(f"machine: {machine['cpu_count']} CPU cores, {machine['processor']}, "
          f"TF {tf.__version__}, Keras {keras.__version__}, intra-op threads 1")
    result = {"quick": quick, "machine": machine}

    print("\n== Cart-Pole REINFORCE: time to mean-100 >= 475 (MLP 32, Adam 3e-3, gamma 0.99) ==")
    max_seconds = 20 if quick else 150
    runs = []
    for seed in range(seeds):
        episodes, seconds, rewards = cartpole_time_to_solve(seed, max_seconds=max_seconds)
        steps = int(sum(rewards))
        status = f"solved in {episodes} episodes" if episodes else f"NOT solved within {max_seconds} s"
        print(f"seed {seed}: {status}, {seconds:.1f} s, {steps} env steps ({steps / seconds:.0f} steps/s)", flush=True)
        runs.append({"seed": seed, "solved_episode": episodes, "seconds": seconds, "env_steps": steps,
                     "episode_rewards": [float(r) for r in rewards]})
    times = [r["seconds"] if r["solved_episode"] else float("inf") for r in runs]
    within = sum(t <= 120 for t in times)
    print(f"CARTPOLE solved within 120 s in {within}/{seeds} seeds; median time-to-solve {np.median(times):.1f} s; "
          f"solved times {[round(t, 1) for t in times if np.isfinite(t)]}")
    result["cartpole"] = {"seeds": runs, "solved_within_120s": within, "max_seconds": max_seconds,
                          "settings": {"units": 32, "learning_rate": 3e-3, "gamma": 0.99, "solved_mean100": 475}}

    steps = 60 if quick else 300
    predict_steps = 5 if quick else 30
    configs = ((16, "ale"),) if quick else ((16, "ale"), (32, "ale"), (64, "ale"), (16, "sync"))
    print("\n== Pong rollout throughput (env steps/s, CNN policy, frame differences) ==")
    model = create_pong_model()
    pong = {"raw_env": raw_env_throughput(500 if quick else 2000), "batched": [], "steps_per_rollout": steps}
    print(f"raw ALE/Pong-v5 env, random actions, no policy: {pong['raw_env']:.0f} steps/s")
    for num_envs, backend in configs:
        rate = batched_throughput(model, num_envs, steps, backend)
        pong["batched"].append({"num_envs": num_envs, "backend": backend, "env_steps_per_s": rate})
        print(f"batched vector env ({backend:>4}, {num_envs:2d} games, 1 compiled call/step): {rate:7.0f} steps/s", flush=True)
    best = max(pong["batched"], key=lambda b: b["env_steps_per_s"])
    pong["best"] = best
    pong["emulator_only"] = emulator_only_throughput(best["num_envs"], steps // 2)
    pong["policy_ms_per_batch"] = policy_ms_per_batch(model, best["num_envs"])
    print(f"the same {best['num_envs']}-game vector env alone (random actions, no policy): {pong['emulator_only']:7.0f} steps/s; "
          f"one policy call for {best['num_envs']} frames: {pong['policy_ms_per_batch']:.1f} ms")
    pong["per_step_predict"] = per_step_predict_throughput(model, 8, predict_steps)
    pong["ratio"] = best["env_steps_per_s"] / pong["per_step_predict"]
    print(f"per-env per-step model.predict (8 games):                   {pong['per_step_predict']:7.0f} steps/s")
    print(f"PONG batched {best['env_steps_per_s']:.0f} env steps/s ({best['backend']}, {best['num_envs']} games) vs per-step "
          f"predict {pong['per_step_predict']:.0f} env steps/s: {pong['ratio']:.0f}x; target 2500 steps/s "
          f"{'met' if best['env_steps_per_s'] >= 2500 else 'NOT met'}")
    result["pong"] = pong
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 Cart-Pole seed (20 s cap) and short Pong rollouts")
    parser.add_argument("--seeds", type=int, default=None, help="number of Cart-Pole seeds (default 5, quick 1)")
    args = parser.parse_args()
    run(quick=args.quick, seeds=args.seeds)


if __name__ == "__main__":
    main()
