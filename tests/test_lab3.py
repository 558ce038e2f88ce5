"""The mistake catalogue of lab 3: every TODO's check against realistic wrong answers and valid ones.

Each wrong answer is what a student might write from the notebook's text; its check must reject it
with a hint that names its fix (the regular expression). Each valid alternative (another spelling,
NumPy instead of TensorFlow, ...) must pass. The notebook's own solution is one of the valid ones.
"""

import functools
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import mitdeeplearning as mdl
from mdl_tools import notebook_code

L = mdl.lab3
NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "lab3" / "solutions" / "RL_Solution.ipynb"


@pytest.fixture(scope="module")
def solution():
    return notebook_code.load(NOTEBOOK)


# ---------------------------------------------------------------------------- TODO 1: choose_action
def _batch(observation, single):
    return np.expand_dims(observation, 0) if single else observation


def ca_argmax(model, observation, single=True):
    action = np.argmax(model(_batch(observation, single)), axis=-1)
    return action[0] if single else action


def ca_softmax_first(model, observation, single=True):
    action = tf.random.categorical(tf.nn.softmax(model(_batch(observation, single))), 1).numpy().flatten()
    return action[0] if single else action


def ca_no_flatten(model, observation, single=True):
    action = tf.random.categorical(model(_batch(observation, single)), 1).numpy()
    return action[0] if single else action


def ca_tensor(model, observation, single=True):
    action = tf.reshape(tf.random.categorical(model(_batch(observation, single)), 1), [-1])
    return action[0] if single else action


def ca_uniform(model, observation, single=True):
    action = np.random.randint(0, 3, size=1 if single else len(observation))
    return action[0] if single else action


def ca_float(model, observation, single=True):
    action = tf.random.categorical(model(_batch(observation, single)), 1).numpy().flatten().astype(np.float32)
    return action[0] if single else action


def ca_many_samples(model, observation, single=True):
    logits = model(_batch(observation, single))
    action = tf.random.categorical(logits, num_samples=logits.shape[-1]).numpy().flatten()
    return action[0] if single else action


def ca_no_index(model, observation, single=True):
    return tf.random.categorical(model(_batch(observation, single)), 1).numpy().flatten()


def ca_numpy_choice(model, observation, single=True):
    probabilities = tf.nn.softmax(model(_batch(observation, single))).numpy().astype(np.float64)
    action = np.array([np.random.choice(len(p), p=p / p.sum()) for p in probabilities])
    return action[0] if single else action


def ca_squeeze(model, observation, single=True):
    action = tf.squeeze(tf.random.categorical(model(_batch(observation, single)), num_samples=1), axis=-1).numpy()
    return action[0] if single else action


# ---------------------------------------------------------------------------- TODO 2: Memory
def memory_class(add):
    class StudentMemory(L.Memory):
        add_to_memory = add

    return StudentMemory


def mem_nothing(self, new_observation, new_action, new_reward):
    pass


def mem_swapped(self, new_observation, new_action, new_reward):
    self.observations.append(new_observation)
    self.actions.append(new_reward)
    self.rewards.append(new_action)


def mem_overwrite(self, new_observation, new_action, new_reward):
    self.observations = [new_observation]
    self.actions = [new_action]
    self.rewards = [new_reward]


def mem_extend(self, new_observation, new_action, new_reward):
    self.observations.extend(new_observation)
    self.actions.append(new_action)
    self.rewards.append(new_reward)


def mem_one_list(self, new_observation, new_action, new_reward):
    self.observations.append((new_observation, new_action, new_reward))


def mem_twice(self, new_observation, new_action, new_reward):
    self.observations.append(new_observation)
    self.observations.append(new_observation)
    self.actions.append(new_action)
    self.rewards.append(new_reward)


def mem_plus_equals(self, new_observation, new_action, new_reward):
    self.observations += [new_observation]
    self.actions += [new_action]
    self.rewards += [new_reward]


def mem_insert(self, new_observation, new_action, new_reward):
    for store, value in ((self.observations, new_observation), (self.actions, new_action), (self.rewards, new_reward)):
        store.insert(len(store), value)


# ---------------------------------------------------------------------------- TODO 3: discount_rewards
def discounter(update, store_first=False, forward=False):
    def discount_rewards(rewards, gamma=0.95):
        returns, running = np.zeros(len(rewards), np.float32), 0.0
        order = range(len(rewards)) if forward else reversed(range(len(rewards)))
        for t in order:
            if store_first:
                returns[t] = running
            running = update(running, rewards[t], gamma)
            if not store_first:
                returns[t] = running
        return returns

    return discount_rewards


def dr_normalised(rewards, gamma=0.95):
    return L.normalize(discounter(lambda g, r, y: r + y * g)(rewards, gamma))


def dr_powers(rewards, gamma=0.95):
    return np.array([gamma ** t * r for t, r in enumerate(rewards)], np.float32)


def dr_list_reversed(rewards, gamma=0.95):
    out, running = [], 0.0
    for r in rewards[::-1]:
        running = running * gamma + r
        out.append(running)
    return np.array(out[::-1], np.float32)


# ---------------------------------------------------------------------------- TODO 4: compute_loss
def _neglogp(logits, actions):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)


def cl_reference(logits, actions, rewards):
    return tf.reduce_mean(_neglogp(logits, actions) * rewards)


def cl_gather(logits, actions, rewards):
    log_probabilities = tf.gather(tf.nn.log_softmax(logits), actions, batch_dims=1)
    return -tf.reduce_mean(log_probabilities * rewards)


def cl_keras(logits, actions, rewards):
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(actions, logits, sample_weight=rewards)


# ---------------------------------------------------------------------------- TODOs 5 and 6: train_step
def stepper(forward="inside", loss_args="right", grads="all", apply="descent"):
    def train_step(model, loss_function, optimizer, observations, actions, discounted_rewards):
        if forward == "outside":
            logits = model(observations)
        with tf.GradientTape() as tape:
            if forward == "inside":
                logits = model(observations, training=True)
            elif forward == "softmax":  # probabilities where loss_function expects logits
                logits = tf.nn.softmax(model(observations, training=True))
            elif forward == "observations":
                logits = tf.convert_to_tensor(observations)[:, :2]
            if loss_args == "right":
                loss = loss_function(logits, actions, discounted_rewards)
            elif loss_args == "negated":
                loss = -loss_function(logits, actions, discounted_rewards)
            elif loss_args == "ones":
                loss = loss_function(logits, actions, tf.ones_like(discounted_rewards))
            elif loss_args == "swapped":
                loss = loss_function(actions, logits, discounted_rewards)
        variables = model.trainable_variables if grads == "all" else model.trainable_variables[-2:]
        gradients = tape.gradient(loss, variables)
        if apply == "descent":
            optimizer.apply_gradients(zip(gradients, variables))
        elif apply == "ascent":
            optimizer.apply_gradients(zip([-g for g in gradients], variables))
        elif apply == "keras3":
            optimizer.apply(gradients, variables)
        elif apply == "zero":
            optimizer.apply_gradients(zip([0.0 * g for g in gradients], variables))
        return loss

    return train_step


# ---------------------------------------------------------------------------- TODO 7: frame_difference
def pc_rescaled(prev, curr):  # the 2020 notebooks rescaled the difference to [0, 1]
    d = L.frame_change(prev, curr)
    return (d - d.min()) / (d.max() - d.min() + 1e-10)


# ---------------------------------------------------------------------------- TODO 8: discount_rewards_pong
def pong_discounter(reset="any", after=False, gamma_used=True, forward=False):
    def discount_rewards_pong(rewards, gamma=0.99):
        returns, running = np.zeros(len(rewards), np.float32), 0.0
        order = range(len(rewards)) if forward else reversed(range(len(rewards)))
        for t in order:
            point = {"any": rewards[t] != 0, "won": rewards[t] > 0, "lost": rewards[t] < 0, "never": False}[reset]
            if point and not after:
                running = 0.0
            running = rewards[t] + (gamma if gamma_used else 1.0) * running
            if point and after:
                running = 0.0
            returns[t] = running
        return returns

    return discount_rewards_pong


def drp_conditional(rewards, gamma=0.99):
    returns, running = np.zeros(len(rewards), np.float32), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] if rewards[t] != 0 else gamma * running
        returns[t] = running
    return returns


# ---------------------------------------------------------------------------- TODO 9: the Pong CNN
def cnn(conv1=(16, 8, 4), conv2=(32, 4, 2), units=64, act="relu", last_act=None, padding="valid",
        separate_relu=False, flatten=True, n_actions=6):
    layers = [keras.Input((80, 80, 1))]
    for filters, kernel, stride in (conv1, conv2):
        if separate_relu:
            layers += [keras.layers.Conv2D(filters, (kernel, kernel), strides=(stride, stride), padding=padding),
                       keras.layers.ReLU()]
        else:
            layers.append(keras.layers.Conv2D(filters, kernel, strides=stride, activation=act, padding=padding))
    if flatten:
        layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(units, activation=tf.nn.relu if separate_relu else act),
               keras.layers.Dense(n_actions, activation=last_act)]
    return keras.Sequential(layers)


def catalogue(solution):
    """{TODO: (check, [valid answers], [(wrong answer, hint regex), ...])}; answers are 0-argument makers."""
    S = solution
    return {
        "TODO 1 choose_action": (L.check_choose_action, [
            lambda: S.choose_action, lambda: ca_numpy_choice, lambda: ca_squeeze,
        ], [
            (lambda: ca_argmax, "always returned the same action"),
            (lambda: ca_softmax_first, "expects LOGITS"),
            (lambda: ca_no_flatten, "ONE integer action"),
            (lambda: ca_tensor, "TensorFlow tensor"),
            (lambda: ca_uniform, "do not match the policy"),
            (lambda: ca_float, "must be an integer"),
            (lambda: ca_many_samples, "one action per observation"),
            (lambda: ca_no_index, "ONE integer action"),
        ]),
        "TODO 2 Memory.add_to_memory": (L.check_memory, [
            lambda: S.Memory, lambda: memory_class(mem_plus_equals), lambda: memory_class(mem_insert),
        ], [
            (lambda: memory_class(mem_nothing), "holds 0 items, expected 3"),
            (lambda: memory_class(mem_swapped), "append each argument to its own list"),
            (lambda: memory_class(mem_overwrite), "holds 1 items, expected 3"),
            (lambda: memory_class(mem_extend), "holds 12 items, expected 3"),
            (lambda: memory_class(mem_one_list), "holds 0 items, expected 3"),
            (lambda: memory_class(mem_twice), "holds 6 items, expected 3"),
        ]),
        "TODO 3 discount_rewards": (L.check_discount_rewards, [
            lambda: S.discount_rewards, lambda: discounter(lambda g, r, y: y * g + r), lambda: dr_list_reversed,
        ], [
            (lambda: discounter(lambda g, r, y: r + y * g, forward=True), "forwards in time"),
            (lambda: dr_normalised, "normalised"),
            (lambda: discounter(lambda g, r, y: r + g), r"expected returns \[1.75"),
            (lambda: discounter(lambda g, r, y: g + y * r), r"expected returns \[1.75"),
            (lambda: discounter(lambda g, r, y: r + y * g, store_first=True), r"expected returns \[1.75"),
            (lambda: discounter(lambda g, r, y: r), r"expected returns \[1.75"),
            (lambda: dr_powers, r"expected returns \[1.75"),
        ]),
        "TODO 4 compute_loss": (L.check_compute_loss, [
            lambda: S.compute_loss, lambda: cl_gather, lambda: cl_keras,
        ], [
            (lambda: lambda lo, a, r: -cl_reference(lo, a, r), "wrong sign"),
            (lambda: lambda lo, a, r: tf.reduce_sum(_neglogp(lo, a) * r), "take the mean"),
            (lambda: lambda lo, a, r: cl_reference(tf.nn.softmax(lo), a, r), "pass logits"),
            (lambda: lambda lo, a, r: _neglogp(lo, a) * r, "must be a scalar"),
            (lambda: lambda lo, a, r: tf.reduce_mean(_neglogp(lo, a)), "ignores the rewards"),
            (lambda: lambda lo, a, r: tf.reduce_mean(_neglogp(lo, a)) * tf.reduce_mean(r), "differs from mean"),
            (lambda: lambda lo, a, r: keras.losses.SparseCategoricalCrossentropy()(a, lo, sample_weight=r), "differs from mean"),
            (lambda: lambda lo, a, r: cl_reference(a, lo, r), "pass logits=logits and labels=actions"),
        ]),
        "TODO 5 train_step: forward pass and loss": (L.check_train_step, [
            lambda: S.train_step, lambda: stepper(),
        ], [
            (lambda: stepper(forward="outside"), "gradients are None"),
            (lambda: stepper(forward="observations"), "gradients are None|trainable variables changed"),
            (lambda: stepper(loss_args="negated"), "must rise"),
            (lambda: stepper(loss_args="ones"), r"PUNISHED action|loss_function\(logits, actions, discounted_rewards\)"),
            (lambda: stepper(loss_args="swapped"), r"loss_function\(logits, actions, discounted_rewards\)"),
            (lambda: tf.function(stepper(forward="outside")), "gradients are None"),
            (lambda: stepper(forward="softmax"), "expects LOGITS"),
            (lambda: tf.function(stepper(forward="softmax"), reduce_retracing=True), "expects LOGITS"),
        ]),
        "TODO 6 train_step: gradients and update": (L.check_train_step, [
            lambda: stepper(apply="keras3"), lambda: tf.function(stepper()),
        ], [
            (lambda: stepper(apply="none"), "weights did not change"),
            (lambda: stepper(apply="ascent"), "must rise"),
            (lambda: stepper(grads="last"), "only 2 of the model's 4 trainable variables"),
            (lambda: stepper(apply="zero"), "weights did not change"),
            (lambda: tf.function(stepper(apply="ascent")), "must rise"),
            (lambda: tf.function(stepper(grads="last")), "only 2 of the model's 4 trainable variables"),
        ]),
        "TODO 7 frame_difference": (L.check_frame_difference, [
            lambda: S.frame_difference, lambda: lambda p, c: np.subtract(L.preprocess_frame(c), L.preprocess_frame(p)),
            lambda: L.frame_change,
        ], [
            (lambda: lambda p, c: L.frame_change(c, p), "reversed"),
            (lambda: pc_rescaled, "without rescaling"),
            (lambda: lambda p, c: L.preprocess_frame(c), "pre-process BOTH"),
            (lambda: lambda p, c: c.astype(np.float32) - p.astype(np.float32), r"shape \(80, 80, 1\)"),
            (lambda: lambda p, c: np.abs(L.frame_change(p, c)), "pre-process BOTH|without rescaling"),
            (lambda: lambda p, c: L.frame_change(p, c).astype(np.float64), "float32"),
            (lambda: lambda p, c: L.preprocess_frame(c) - L.preprocess_frame(c), "pre-process BOTH"),
            (lambda: L.pong_change, r"shape \(80, 80, 1\)"),  # the 2021 package's helper: 40x40
        ]),
        "TODO 8 discount_rewards_pong": (L.check_discount_rewards_pong, [
            lambda: S.discount_rewards_pong, lambda: drp_conditional,
            lambda: pong_discounter(reset="any"),
        ], [
            (lambda: pong_discounter(reset="never"), "not reset when a point is scored"),
            (lambda: pong_discounter(reset="won"), "reset after a WON point but not after a LOST one"),
            (lambda: pong_discounter(reset="lost"), "reset after a LOST point but not after a WON one"),
            (lambda: pong_discounter(after=True), "returns at the points themselves are 0"),
            (lambda: pong_discounter(gamma_used=False), "not discounted by gamma"),
            (lambda: pong_discounter(forward=True), "iterate from the last reward"),
        ]),
        "TODO 9 create_pong_model": (functools.partial(L.check_pong_model, n_actions=6), [
            lambda: S.create_pong_model(6), lambda: cnn(separate_relu=True), lambda: cnn(act=tf.nn.relu),
            lambda: cnn(act=keras.activations.relu),
        ], [
            (lambda: cnn(conv1=(16, 8, 1), conv2=(32, 4, 1)), "without strides"),
            (lambda: cnn(act=None), "needs a ReLU"),
            (lambda: cnn(padding="same"), "padding='valid'"),
            (lambda: cnn(units=128), "64 units, got 128"),
            (lambda: cnn(last_act="softmax"), "must output LOGITS"),
            (lambda: cnn(last_act=tf.nn.softmax), "must output LOGITS"),
            (lambda: cnn(conv1=(16, 5, 4)), "kernel size 8"),
            (lambda: cnn(flatten=False), r"\(batch, 6\) logits"),
            (lambda: cnn(n_actions=2), r"\(batch, 6\) logits"),
        ]),
    }


def test_the_mistake_catalogue(solution, capsys):
    entries = catalogue(solution)
    problems, rejected, accepted = [], 0, 0
    for todo, (check, valid, wrong) in entries.items():
        assert len(wrong) >= 6 and len(valid) >= 2, f"{todo}: the catalogue needs >= 6 wrong and >= 2 valid answers"
        for k, make in enumerate(valid):
            try:
                check(make())
                accepted += 1
            except AssertionError as exc:
                problems.append(f"{todo}, valid answer {k}: rejected with {exc}")
        for k, (make, hint) in enumerate(wrong):
            try:
                check(make())
                problems.append(f"{todo}, wrong answer {k}: PASSED (expected a hint matching {hint!r})")
            except AssertionError as exc:
                import re

                if re.search(hint, str(exc)):
                    rejected += 1
                else:
                    problems.append(f"{todo}, wrong answer {k}: hint {str(exc)!r} does not match {hint!r}")
    total_wrong = sum(len(w) for _, _, w in entries.values())
    total_valid = sum(len(v) for _, v, _ in entries.values())
    with capsys.disabled():
        print(f"\nlab 3 mistake catalogue: {len(entries)} TODOs, {rejected}/{total_wrong} wrong answers rejected "
              f"with their hint, {accepted}/{total_valid} valid alternatives accepted")
    assert not problems, "\n".join(problems)


def test_checks_print_a_tick_and_return_nothing(solution, capsys):
    assert L.check_memory(solution.Memory) is None
    assert capsys.readouterr().out.startswith("✔ ")


def test_check_turns_a_crash_into_a_hint():
    with pytest.raises(AssertionError, match="could not inspect your answer|your code raised"):
        L.check_discount_rewards("not a function")


def test_kept_names_exist():
    for name in ("play_video", "preprocess_pong", "pong_change", "Memory", "aggregate_memories",
                 "parallelized_collect_rollout", "save_video_of_model", "save_video_of_memory"):
        assert callable(getattr(L, name)), name


def test_pong_model_check_judges_with_the_notebooks_action_count(solution, capsys):
    """The check takes the action count from the notebook: a model for another game passes with its own."""
    assert L.check_pong_model(solution.create_pong_model(3), 3) is None
    with pytest.raises(AssertionError, match=r"\(batch, 6\) logits"):
        L.check_pong_model(solution.create_pong_model(3), 6)
