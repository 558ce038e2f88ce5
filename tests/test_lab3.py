"""Every lab-3 check accepts a right answer and rejects each typical wrong answer with its hint."""

import numpy as np
import pytest

import keras
import tensorflow as tf

import mitdeeplearning as mdl

L = mdl.lab3


# ---------------------------------------------------------------------------- reference answers
def choose_action(model, observation, single=True):
    observation = np.expand_dims(observation, 0) if single else observation
    logits = model(observation)
    action = tf.random.categorical(logits, num_samples=1).numpy().flatten()
    return action[0] if single else action


def compute_loss(logits, actions, rewards):
    neg_logprob = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)
    return tf.reduce_mean(neg_logprob * rewards)


@tf.function
def train_step(model, loss_function, optimizer, observations, actions, discounted_rewards):
    with tf.GradientTape() as tape:
        logits = model(observations)
        loss = loss_function(logits, actions, discounted_rewards)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def discount_rewards(rewards, gamma=0.95):
    returns, running = np.zeros(len(rewards), np.float32), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def discount_rewards_pong(rewards, gamma=0.99):
    returns, running = np.zeros(len(rewards), np.float32), 0.0
    for t in reversed(range(len(rewards))):
        if rewards[t] != 0:
            running = 0.0
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def rejects(check, answer, hint, **kwargs):
    with pytest.raises(AssertionError, match=hint):
        check(answer, **kwargs)


# ---------------------------------------------------------------------------- choose_action
def test_choose_action_accepts_sampling(capsys):
    assert L.check_choose_action(choose_action)
    assert "✔" in capsys.readouterr().out


def test_choose_action_rejects_argmax():
    def greedy(model, observation, single=True):
        observation = np.expand_dims(observation, 0) if single else observation
        action = np.argmax(model(observation), axis=-1)
        return action[0] if single else action

    rejects(L.check_choose_action, greedy, "always returned the same action")


def test_choose_action_rejects_softmax_as_logits():
    def on_probs(model, observation, single=True):
        observation = np.expand_dims(observation, 0) if single else observation
        probs = tf.nn.softmax(model(observation))
        action = tf.random.categorical(probs, 1).numpy().flatten()
        return action[0] if single else action

    rejects(L.check_choose_action, on_probs, "expects LOGITS")


def test_choose_action_rejects_uniform_and_shapes():
    def uniform(model, observation, single=True):
        n = 1 if single else len(observation)
        action = np.random.randint(0, 3, size=n)
        return action[0] if single else action

    rejects(L.check_choose_action, uniform, "do not match the policy")

    def no_flatten(model, observation, single=True):
        observation = np.expand_dims(observation, 0) if single else observation
        action = tf.random.categorical(model(observation), 1).numpy()
        return action[0] if single else action

    rejects(L.check_choose_action, no_flatten, "ONE integer action")


# ---------------------------------------------------------------------------- memory
def test_memory_accepts_reference():
    assert L.check_memory(L.Memory)
    assert L.check_memory(L.Memory())


def test_memory_rejects_stub_that_stores_nothing():
    class Lazy(L.Memory):
        def add_to_memory(self, new_observation, new_action, new_reward):
            pass

    rejects(L.check_memory, Lazy, "holds 0 items, expected 3")


def test_memory_rejects_swapped_lists_and_bad_clear():
    class Swapped(L.Memory):
        def add_to_memory(self, new_observation, new_action, new_reward):
            self.observations.append(new_observation)
            self.actions.append(new_reward)
            self.rewards.append(new_action)

    rejects(L.check_memory, Swapped, "append each argument to its own list")

    class NoClear(L.Memory):
        def clear(self):
            if not hasattr(self, "actions"):
                super().clear()

    rejects(L.check_memory, NoClear, "must empty all three lists")


# ---------------------------------------------------------------------------- discounting
def test_discount_rewards_accepts_reference():
    assert L.check_discount_rewards(discount_rewards)


def test_discount_rewards_rejects_forward_accumulation():
    def forward(rewards, gamma=0.95):
        out, running = [], 0.0
        for r in rewards:
            running = r + gamma * running
            out.append(running)
        return np.array(out, np.float32)

    rejects(L.check_discount_rewards, forward, "forwards in time")


def test_discount_rewards_rejects_normalised_and_no_gamma():
    rejects(L.check_discount_rewards, lambda r, g=0.95: L.normalize(discount_rewards(r, g)), "normalised")
    rejects(L.check_discount_rewards, lambda r, g=0.95: discount_rewards(r, 1.0), "expected returns")


def test_discount_rewards_pong_accepts_reference_and_rejects_no_reset():
    assert L.check_discount_rewards_pong(discount_rewards_pong)
    rejects(L.check_discount_rewards_pong, discount_rewards, "not reset when a point is scored")
    rejects(L.check_discount_rewards_pong, lambda r, g=0.99: np.asarray(r, np.float32), "expected")


# ---------------------------------------------------------------------------- loss and training
def test_compute_loss_accepts_reference():
    assert L.check_compute_loss(compute_loss)


def test_compute_loss_rejects_wrong_sign_sum_and_probabilities():
    rejects(L.check_compute_loss, lambda lo, a, r: -compute_loss(lo, a, r), "wrong sign")
    rejects(
        L.check_compute_loss,
        lambda lo, a, r: tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=lo, labels=a) * r),
        "take the mean",
    )
    rejects(L.check_compute_loss, lambda lo, a, r: compute_loss(tf.nn.softmax(lo), a, r), "pass logits")
    rejects(
        L.check_compute_loss,
        lambda lo, a, r: tf.nn.sparse_softmax_cross_entropy_with_logits(logits=lo, labels=a) * r,
        "must be a scalar",
    )


def test_train_step_accepts_reference():
    assert L.check_train_step(train_step)


def test_train_step_rejects_no_update_and_ascent():
    def no_apply(model, loss_function, optimizer, observations, actions, discounted_rewards):
        with tf.GradientTape() as tape:
            loss = loss_function(model(observations), actions, discounted_rewards)
        tape.gradient(loss, model.trainable_variables)
        return loss

    rejects(L.check_train_step, no_apply, "weights did not change")

    def ascent(model, loss_function, optimizer, observations, actions, discounted_rewards):
        with tf.GradientTape() as tape:
            loss = loss_function(model(observations), actions, discounted_rewards)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip([-g for g in grads], model.trainable_variables))
        return loss

    rejects(L.check_train_step, ascent, "must rise")


# ---------------------------------------------------------------------------- Pong
def _real_frame():
    env = L.make_env(L.PONG_ENV_NAME, seed=0)
    try:
        frame, _ = env.reset()
        for _ in range(40):
            frame, *_ = env.step(0)
    finally:
        env.close()
    return frame


def test_preprocess_check_accepts_real_frame_and_rejects_wrong_ones():
    processed = L.preprocess_frame(_real_frame())
    assert L.check_preprocess_frame(processed)
    rejects(L.check_preprocess_frame, processed.astype(np.float64), "float32")
    rejects(L.check_preprocess_frame, processed[..., 0], r"shape \(80, 80, 1\)")
    rejects(L.check_preprocess_frame, processed * 255, "must be 0 or 1")
    rejects(L.check_preprocess_frame, np.zeros_like(processed), "all background")


def test_pong_change_accepts_reference_and_rejects_wrong_answers():
    assert L.check_pong_change(L.frame_change)
    rejects(L.check_pong_change, lambda p, c: L.frame_change(c, p), "reversed")

    def rescaled(prev, curr):  # the 2020 version rescaled the difference to [0, 1]
        d = L.frame_change(prev, curr)
        return (d - d.min()) / (d.max() - d.min() + 1e-10)

    rejects(L.check_pong_change, rescaled, "without rescaling")
    rejects(L.check_pong_change, lambda p, c: L.preprocess_frame(c), "pre-process BOTH")


def test_pong_model_check():
    good = keras.Sequential(
        [keras.Input((80, 80, 1)), keras.layers.Conv2D(8, 5, strides=4, activation="relu"),
         keras.layers.Flatten(), keras.layers.Dense(6)]
    )
    assert L.check_pong_model(good)
    softmaxed = keras.Sequential(
        [keras.Input((80, 80, 1)), keras.layers.Conv2D(8, 5, strides=4), keras.layers.Flatten(),
         keras.layers.Dense(6, activation="softmax")]
    )
    rejects(L.check_pong_model, softmaxed, "LOGITS")
    wrong_width = keras.Sequential(
        [keras.Input((80, 80, 1)), keras.layers.Conv2D(8, 5, strides=4), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    rejects(L.check_pong_model, wrong_width, r"\(batch, 6\) logits")
    dense_only = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    rejects(L.check_pong_model, dense_only, "Conv2D")


def test_check_turns_crash_into_hint():
    # a student who passes the wrong kind of object gets an AssertionError, not a raw traceback
    rejects(L.check_discount_rewards, "not a function", "could not inspect your answer")


def test_kept_names_exist():
    for name in ("play_video", "preprocess_pong", "pong_change", "Memory", "aggregate_memories",
                 "parallelized_collect_rollout", "save_video_of_model", "save_video_of_memory"):
        assert callable(getattr(L, name)), name
