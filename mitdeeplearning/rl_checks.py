"""Lab 3's checks, one per TODO: Cart-Pole's sampling, memory, returns, loss and training step, then
Pong's frames, frame change, returns and model.

Each check builds its own small inputs, runs the student's code on them and compares properties
(lengths, the return recursion, the direction of a gradient, sampling frequencies), never seeded
floats. ``mitdeeplearning.lab3`` hands them out with the lab's other helpers.
"""

import numpy as np

from .checks import CheckFailed, activation_name, attempt, check, require
from .rl import frame_change


def _returns_without_reset(rewards, gamma):
    """Discounted returns that carry across points: the mistake check_discount_rewards_pong names."""
    returns, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def _constant_logit_model(probabilities, obs_dim=4):
    """A Keras model whose output is log(probabilities) whatever the input."""
    import keras

    probabilities = np.asarray(probabilities, dtype=np.float32)
    model = keras.Sequential(
        [
            keras.Input((obs_dim,)),
            keras.layers.Dense(
                len(probabilities),
                kernel_initializer="zeros",
                bias_initializer=keras.initializers.Constant(np.log(probabilities)),
            ),
        ]
    )
    return model


# --------------------------------------------------------------------------------------------
# Part 1: Cart-Pole
# --------------------------------------------------------------------------------------------
@check
def check_choose_action(choose_action, num_draws=4000):
    """Sampled actions follow the policy's probabilities, for one observation and for a batch."""
    probabilities = np.array([0.6, 0.3, 0.1], dtype=np.float32)
    model = _constant_logit_model(probabilities)
    rng = np.random.default_rng(0)

    single = attempt(choose_action, model, rng.normal(size=4).astype(np.float32), single=True,
                     fix="choose_action(model, observation, single=True) must run on one observation of shape (4,)")
    require(
        not hasattr(single, "numpy"),
        "choose_action returned a TensorFlow tensor; gymnasium's env.step needs a NumPy or Python integer: "
        "call .numpy() on the result of tf.random.categorical before flattening",
    )
    require(
        np.ndim(single) == 0,
        f"with single=True choose_action must return ONE integer action, got {single!r} "
        f"(shape {np.shape(single)}); return action[0] for a single observation",
    )
    require(
        isinstance(single, (int, np.integer)) and not isinstance(single, bool),
        f"with single=True the action must be an integer (int or a NumPy integer), got {type(single).__name__} "
        f"{single!r}; flatten the integer array returned by tf.random.categorical(...).numpy()",
    )
    require(0 <= int(single) < 3, f"the action must be in range(n_actions) = 0..2, got {single}")

    batch = rng.normal(size=(num_draws, 4)).astype(np.float32)
    actions = attempt(choose_action, model, batch, single=False,
                      fix="with single=False, choose_action gets a batch of observations, shape (batch, 4)")
    require(
        not hasattr(actions, "numpy"),
        "with single=False choose_action returned a TensorFlow tensor; the vector environment needs a NumPy "
        "array of integers: call .numpy() and flatten it",
    )
    actions = np.asarray(actions)
    require(
        actions.shape == (num_draws,),
        f"with single=False choose_action must return one action per observation, shape ({num_draws},), "
        f"got shape {actions.shape}; flatten the (batch, 1) output of tf.random.categorical",
    )
    require(
        np.issubdtype(actions.dtype, np.integer),
        f"actions must be integers (environment actions are indices), got dtype {actions.dtype}",
    )
    require(
        actions.min() >= 0 and actions.max() < 3,
        f"actions must lie in 0..n_actions-1, got values from {actions.min()} to {actions.max()}",
    )
    counts = np.bincount(actions, minlength=3) / num_draws
    require(
        len(np.unique(actions)) > 1,
        "choose_action always returned the same action: it must SAMPLE from the policy "
        "(tf.random.categorical(logits, num_samples=1)), not take the most likely action (argmax)",
    )
    tolerance = 5 * np.sqrt(probabilities * (1 - probabilities) / num_draws)
    if not np.all(np.abs(counts - probabilities) <= tolerance):
        softmax_of_probs = np.exp(probabilities) / np.exp(probabilities).sum()
        if np.all(np.abs(counts - softmax_of_probs) <= tolerance + 0.01):
            require(
                False,
                "actions follow softmax(probabilities), not the policy: tf.random.categorical expects "
                "LOGITS, so pass the model's output directly instead of applying softmax first",
            )
        require(
            False,
            f"sampled action frequencies {np.round(counts, 3).tolist()} do not match the policy's "
            f"probabilities {[round(float(p), 2) for p in probabilities]}; sample with tf.random.categorical(logits, 1) "
            f"where logits = model(observation)",
        )
    return f"choose_action samples from the policy (frequencies {np.round(counts, 2).tolist()} vs {[round(float(p), 2) for p in probabilities]})"


@check
def check_memory(memory_class):
    """``Memory`` (the class or an instance) stores observations, actions and rewards, and clears."""
    memory = memory_class() if isinstance(memory_class, type) else memory_class
    memory.clear()
    steps = [(np.array([0.1, 0.2, 0.3, 0.4], np.float32) * k, k % 2, float(k)) for k in range(1, 4)]
    for observation, action, reward in steps:
        memory.add_to_memory(observation, action, reward)
    for name in ("observations", "actions", "rewards"):
        stored = getattr(memory, name, None)
        require(stored is not None, f"the memory has no attribute {name!r}; keep the three lists created in clear()")
        require(
            len(stored) == 3,
            f"after 3 calls of add_to_memory, memory.{name} holds {len(stored)} items, expected 3; "
            f"add_to_memory must append the new {name[:-1]} to self.{name}",
        )
    require(
        list(memory.actions) == [1, 0, 1] and [float(r) for r in memory.rewards] == [1.0, 2.0, 3.0],
        f"memory.actions = {list(memory.actions)} and memory.rewards = {list(memory.rewards)}; expected "
        "[1, 0, 1] and [1.0, 2.0, 3.0] — append each argument to its own list, in order",
    )
    require(
        all(np.allclose(stored, expected[0]) for stored, expected in zip(memory.observations, steps)),
        "memory.observations does not hold the observations passed to add_to_memory, in order",
    )
    memory.clear()
    require(
        len(memory.observations) == len(memory.actions) == len(memory.rewards) == 0,
        "memory.clear() must empty all three lists",
    )
    return "Memory stores observations, actions and rewards in order, and clears"


@check
def check_discount_rewards(discount_rewards):
    """A hand-computed example and the recursion G_t = r_t + gamma * G_{t+1}."""
    result = np.asarray(discount_rewards([1.0, 1.0, 1.0], 0.5), dtype=np.float64).reshape(-1)
    require(result.shape == (3,), f"expected one return per reward (shape (3,)), got shape {result.shape}")
    if np.allclose(result, [1.0, 1.5, 1.75]):
        require(False, "returns are accumulated forwards in time; iterate from the LAST reward to the first")
    if abs(result.mean()) < 1e-4 and not np.allclose(result, 0):
        require(False, "the returns look normalised; discount_rewards must return the raw discounted returns "
                       "(normalise separately with normalize)")
    require(
        np.allclose(result, [1.75, 1.5, 1.0]),
        f"for rewards [1, 1, 1] and gamma 0.5 expected returns [1.75, 1.5, 1.0] "
        f"(G_2 = 1, G_1 = 1 + 0.5*1, G_0 = 1 + 0.5*1.5), got {result.tolist()}",
    )
    rewards = np.random.default_rng(1).normal(size=20)
    gamma = 0.9
    returns = np.asarray(discount_rewards(rewards, gamma), dtype=np.float64).reshape(-1)
    require(returns.shape == (20,), f"expected 20 returns for 20 rewards, got shape {returns.shape}")
    require(np.isclose(returns[-1], rewards[-1], atol=1e-4), "the last return must equal the last reward")
    require(
        np.allclose(returns[:-1], rewards[:-1] + gamma * returns[1:], atol=1e-4),
        "the returns do not satisfy G_t = r_t + gamma * G_{t+1}; check the update of the running sum",
    )
    return "discount_rewards computes G_t = r_t + gamma * G_{t+1}"


def _reference_loss(logits, actions, rewards):
    import tensorflow as tf

    neg_logprob = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)
    return tf.reduce_mean(neg_logprob * rewards)


@check
def check_compute_loss(compute_loss):
    """Loss is a scalar mean of -log pi(a|s) * return, and descent raises rewarded actions."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    logits = tf.Variable(rng.normal(size=(6, 3)).astype(np.float32))
    actions = tf.constant([0, 1, 2, 0, 1, 2], dtype=tf.int32)
    rewards = tf.constant(rng.uniform(0.5, 2.0, size=6).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = attempt(compute_loss, logits, actions, rewards,
                       fix="compute_loss(logits, actions, rewards) gets float logits (batch, n_actions), integer actions "
                           "(batch,) and float rewards (batch,); pass logits=logits and labels=actions by name")
    loss = tf.convert_to_tensor(loss)
    require(loss.shape.rank == 0, f"the loss must be a scalar (reduce_mean over the batch), got shape {loss.shape}")
    expected = float(_reference_loss(logits, actions, rewards))
    value = float(loss)
    require(np.isfinite(value), f"the loss is {value}; it must be finite")
    if np.isclose(value, -expected, rtol=1e-4):
        require(False, "the loss has the wrong sign: use the NEGATIVE log-probability (cross-entropy) times the "
                       "return, so that minimising it raises the probability of well-rewarded actions")
    if np.isclose(value, expected * len(actions), rtol=1e-4):
        require(False, "the loss is a sum over the batch; take the mean (tf.reduce_mean)")
    plain = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=actions)))
    if np.isclose(value, plain, rtol=1e-4):
        require(False, "the loss ignores the rewards: multiply each negative log-probability by its discounted "
                       "reward before taking the mean")
    require(
        np.isclose(value, expected, rtol=1e-4, atol=1e-6),
        f"loss {value:.5f} differs from mean(sparse_softmax_cross_entropy_with_logits(logits, actions) * rewards) "
        f"= {expected:.5f}; pass logits (not probabilities) and multiply by the discounted rewards",
    )
    gradient = tape.gradient(loss, logits)
    require(gradient is not None, "the loss is not differentiable with respect to the logits; use TensorFlow ops")
    taken = tf.gather(gradient, actions, batch_dims=1).numpy()
    require(
        np.all(taken < 0),
        "a gradient-descent step must RAISE the logit of an action taken with positive return; check the sign",
    )
    return "compute_loss = mean(-log pi(a|s) * G); descent raises the log-probability of rewarded actions"


def _train_step_case():
    """A small policy, its SGD optimizer and one batch: action 0 paid off in one situation, 1 not in another."""
    import keras

    # seeded initialisers, not keras.utils.set_random_seed: a global TF seed would make every later
    # eager tf.random.categorical call in the notebook compile a new kernel (memory grows per step)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=3)),
            keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed=4)),
        ]
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    optimizer.build(model.trainable_variables)
    observations = np.random.default_rng(3).normal(size=(16, 4)).astype(np.float32)
    observations[8:] += 3.0  # two kinds of situation ...
    actions = np.array([0] * 8 + [1] * 8, dtype=np.int32)  # ... action 0 in the first, 1 in the second,
    rewards = np.array([1.0] * 8 + [-1.0] * 8, dtype=np.float32)  # ... paid off in the first, not in the second
    return model, optimizer, observations, actions, rewards


def _run_train_step(train_step, *args):
    """``train_step(*args)``, with the errors a wrong train step raises turned into hints."""
    try:
        return train_step(*args)
    except (AssertionError, NotImplementedError):
        raise
    except Exception as exc:
        text = str(exc)
        if "No gradients provided" in text or "NoneType" in text:
            require(False, "the gradients are None: run the model (logits = model(observations)) and the loss INSIDE "
                           "the `with tf.GradientTape() as tape:` block, so the tape records them")
        if "Unknown variable" in text or "zip" in text:
            require(False, "apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables)), "
                           "one gradient per trainable variable, in the same order")
        raise CheckFailed(f"train_step raised {type(exc).__name__}: {text.strip().splitlines()[0][:300] if text.strip() else ''}. "
                          "Call loss_function(logits, actions, discounted_rewards) and apply the gradients of all "
                          "model.trainable_variables") from exc


@check
def check_train_step(train_step, loss_function=None):
    """One train step moves the weights and raises the probability of actions with positive return."""
    import tensorflow as tf

    model, optimizer, observations, actions, rewards = _train_step_case()
    before_weights = [w.numpy().copy() for w in model.trainable_variables]
    logits = model(observations).numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    before, before_bad = probabilities[:8, 0].mean(), probabilities[8:, 1].mean()
    loss_function = loss_function or _reference_loss
    seen = tf.Variable(tf.fill(logits.shape, np.nan))  # what train_step passes to the loss as logits
    other_shapes = []

    def spy_loss(logits, actions, rewards):
        value = tf.convert_to_tensor(logits)
        if value.shape == seen.shape:
            seen.assign(tf.cast(value, tf.float32))
        else:
            other_shapes.append(tuple(value.shape))
        return loss_function(logits, actions, rewards)

    _run_train_step(train_step, model, spy_loss, optimizer, observations, actions, rewards)
    passed = seen.numpy()
    if other_shapes:
        require(False, f"loss_function got an array of shape {other_shapes[0]} as its first argument, not the model's "
                       f"logits of shape {logits.shape}: loss_function(logits, actions, discounted_rewards), in that order")
    require(not np.isnan(passed).all(), "train_step never called loss_function: compute the loss with "
                                       "loss_function(logits, actions, discounted_rewards)")
    if not np.allclose(passed, logits, atol=1e-5):
        require(not np.allclose(passed, probabilities, atol=1e-5),
                "train_step passed softmax probabilities to loss_function, which expects LOGITS (it applies the "
                "softmax itself, so the policy's probabilities get a second softmax and barely move): pass "
                "model(observations) as it comes")
        require(False, "loss_function did not get the model's logits for these observations: logits = "
                       "model(observations), then loss_function(logits, actions, discounted_rewards)")
    moved = [not np.allclose(a, w.numpy()) for a, w in zip(before_weights, model.trainable_variables)]
    require(any(moved), "the model's weights did not change: compute the gradients of the loss with a GradientTape and "
                        "apply them with optimizer.apply_gradients(zip(grads, model.trainable_variables))")
    require(all(moved), f"only {sum(moved)} of the model's {len(moved)} trainable variables changed: take the gradient "
                        "with respect to ALL of model.trainable_variables and apply every one of them")
    probabilities = tf.nn.softmax(model(observations)).numpy()
    after, after_bad = probabilities[:8, 0].mean(), probabilities[8:, 1].mean()
    require(
        after > before,
        f"after one step, the probability of the rewarded action went from {before:.3f} to {after:.3f}; it must "
        f"rise. Call the loss as loss_function(logits, actions, discounted_rewards) and MINIMISE it (apply the "
        f"gradients, not their negation)",
    )
    require(
        after_bad < before_bad,
        f"after one step, the probability of the PUNISHED action (negative reward) went from {before_bad:.3f} to "
        f"{after_bad:.3f}; it must fall. Pass discounted_rewards to loss_function (not ones, not the actions)",
    )
    return (f"train_step updates every weight (p(rewarded action) {before:.3f} -> {after:.3f}, "
            f"p(punished action) {before_bad:.3f} -> {after_bad:.3f})")


# --------------------------------------------------------------------------------------------
# Part 2: Pong
# --------------------------------------------------------------------------------------------
def _synthetic_pong_frames():
    """Two 210x160x3 Pong-like frames: background 144, a ball moving right, a paddle moving down."""
    prev = np.zeros((210, 160, 3), np.uint8)
    prev[..., 0], prev[..., 1], prev[..., 2] = 144, 72, 17
    curr = prev.copy()
    prev[100:104, 60:62] = 236  # ball
    curr[100:104, 70:72] = 236
    prev[80:96, 140:144] = (92, 186, 92)  # paddle
    curr[90:106, 140:144] = (92, 186, 92)
    return prev, curr


@check
def check_preprocess_frame(processed):
    """A pre-processed frame: (80, 80, 1) float32 of zeros and ones, with something on it."""
    x = np.asarray(processed)
    require(x.shape == (80, 80, 1), f"a pre-processed frame has shape (80, 80, 1), got {x.shape}")
    require(x.dtype == np.float32, f"pre-processed frames must be float32 (np.float is gone from NumPy), got {x.dtype}")
    values = set(np.unique(x).tolist())
    require(values <= {0.0, 1.0}, f"pre-processed pixels must be 0 or 1, got values {sorted(values)[:6]}")
    require(1.0 in values, "the pre-processed frame is all background; pass a real Pong frame (env.reset / env.step)")
    return "pre-processed frame: (80, 80, 1) float32 of 0/1"


@check
def check_frame_difference(frame_difference):
    """The frame difference is preprocess(curr) - preprocess(prev), float32 values in {-1, 0, 1}."""
    prev, curr = _synthetic_pong_frames()
    result = np.asarray(frame_difference(prev, curr))
    expected = frame_change(prev, curr)
    require(result.shape == (80, 80, 1), f"the frame difference has shape (80, 80, 1), got {result.shape}")
    require(result.dtype == np.float32, f"the frame difference must be float32, got {result.dtype}")
    if np.array_equal(result, -expected):
        require(False, "the difference is reversed: subtract the PREVIOUS frame from the CURRENT one (curr - prev)")
    require(
        set(np.unique(result).tolist()) <= {-1.0, 0.0, 1.0},
        f"differences of 0/1 frames are -1, 0 or 1, got values {np.unique(result)[:6].tolist()}; "
        "pre-process both frames and subtract, without rescaling",
    )
    require(
        np.array_equal(result, expected),
        "the difference does not equal preprocess_frame(curr) - preprocess_frame(prev); pre-process BOTH raw frames first",
    )
    return "frame_difference = preprocess(curr) - preprocess(prev), values in {-1, 0, 1}"


def _pong_returns(rewards, gamma, resets=lambda r: r != 0):
    """Returns that restart at the points where ``resets(reward)`` holds (the right answer: every point)."""
    returns, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + (0.0 if resets(rewards[t]) else gamma * running)
        returns[t] = running
    return returns


@check
def check_discount_rewards_pong(discount_rewards_pong):
    """Discounting restarts at every point, won or lost: no return flows from one rally into the one before."""
    # a lost point followed by a won one, and the other way round, each with steps on both sides
    rewards = [0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, -1.0]
    gamma = 0.5
    result = np.asarray(attempt(discount_rewards_pong, rewards, gamma, fix="discount_rewards_pong(rewards, gamma) "
                                "takes a list of rewards and a discount factor"), dtype=np.float64).reshape(-1)
    require(result.shape == (len(rewards),), f"expected one return per reward (shape ({len(rewards)},)), got {result.shape}")
    expected = _pong_returns(rewards, gamma)
    if np.allclose(result, _returns_without_reset(rewards, gamma)):
        require(False, "the running return is not reset when a point is scored: set it to 0 whenever rewards[t] != 0 "
                       "before adding that reward")
    if not np.allclose(result, expected):
        if np.allclose(result, _pong_returns(rewards, gamma, resets=lambda r: r > 0)):
            require(False, "the return is reset after a WON point but not after a LOST one: reset whenever "
                           "rewards[t] != 0 (a point for either side ends the rally)")
        if np.allclose(result, _pong_returns(rewards, gamma, resets=lambda r: r < 0)):
            require(False, "the return is reset after a LOST point but not after a WON one: reset whenever "
                           "rewards[t] != 0 (a point for either side ends the rally)")
        if np.allclose(result[[2, 5, 7, 10]], 0.0):
            require(False, "the returns at the points themselves are 0: reset the running return BEFORE adding "
                           "rewards[t], then store it")
        if np.allclose(result, _pong_returns(rewards, 1.0)):
            require(False, "the returns are not discounted by gamma within a rally: running = rewards[t] + gamma * running")
        require(
            False,
            f"for rewards {rewards} and gamma {gamma} expected {expected.tolist()}, got {np.round(result, 4).tolist()}; "
            "iterate from the last reward to the first, reset the running return at every point, then add the reward",
        )
    return "discount_rewards_pong restarts the return at every point, won or lost"


def _layer_plan(model):
    """The model's layers as (kind, settings, activation), an activation layer merged into the one before."""
    import keras

    plan = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        kind = type(layer).__name__
        if kind in ("ReLU", "Softmax", "Activation", "ELU", "LeakyReLU", "PReLU"):
            if plan and plan[-1][2] is None:
                plan[-1] = (plan[-1][0], plan[-1][1], activation_name(layer))
            else:
                plan.append(("Activation", {}, activation_name(layer)))
            continue
        if isinstance(layer, keras.layers.Conv2D):
            settings = {"filters": layer.filters, "kernel_size": tuple(layer.kernel_size),
                        "strides": tuple(layer.strides), "padding": layer.padding}
        elif isinstance(layer, keras.layers.Dense):
            settings = {"units": layer.units}
        else:
            settings = {}
        plan.append((kind, settings, activation_name(getattr(layer, "activation", None))))
    return plan


@check
def check_pong_model(model, n_actions):
    """The policy CNN of ``create_pong_model(n_actions)``, layer by layer, whatever the spelling of its activations."""
    x = np.zeros((2, 80, 80, 1), np.float32)
    x[:, 40:44, 30:32] = 1.0
    out = np.asarray(attempt(model, x, fix="the model must take a batch of (80, 80, 1) frame differences"))
    require(out.shape == (2, n_actions), f"the policy must output (batch, {n_actions}) logits, got shape {out.shape}; "
                                         "end with Flatten, Dense(64) and Dense(n_actions)")
    require(np.all(np.isfinite(out)), "the policy output contains NaN or inf")
    plan = _layer_plan(model)
    kinds = [kind for kind, _, _ in plan]
    require(kinds == ["Conv2D", "Conv2D", "Flatten", "Dense", "Dense"],
            f"expected the layers Conv2D, Conv2D, Flatten, Dense, Dense; got {', '.join(kinds)}")
    (_, conv1, a1), (_, conv2, a2), _, (_, dense, a3), (_, last, a4) = plan
    for name, conv, act, want in (("first", conv1, a1, (16, (8, 8), (4, 4))), ("second", conv2, a2, (32, (4, 4), (2, 2)))):
        got = (conv["filters"], conv["kernel_size"], conv["strides"])
        require(got == want, f"the {name} Conv2D should have {want[0]} filters, kernel size {want[1][0]} and strides "
                             f"{want[2][0]}; got {got[0]} filters, kernel {got[1]}, strides {got[2]}"
                             + (" (without strides the network has millions of weights and is far too slow)"
                                if got[2] == (1, 1) else ""))
        require(conv["padding"] == "valid", f"the {name} Conv2D uses padding={conv['padding']!r}; keep the default "
                                            "padding='valid' (the 8x8x32 output of the second one feeds Dense(64))")
        require(act == "relu", f"the {name} Conv2D needs a ReLU (activation='relu'), got "
                               f"{act or 'no activation'}: without it the two convolutions collapse into one linear map")
    require(dense["units"] == 64, f"the hidden Dense layer should have 64 units, got {dense['units']}")
    require(a3 == "relu", f"the hidden Dense(64) layer needs activation='relu', got {a3 or 'no activation'}")
    require(a4 is None, f"the last layer must output LOGITS: remove its activation ({a4}); the sampling and the "
                        "loss apply the softmax themselves")
    require(last["units"] == n_actions, f"the last Dense layer needs {n_actions} units (one logit per action)")
    expected = (8 * 8 * 1 * 16 + 16) + (4 * 4 * 16 * 32 + 32) + (8 * 8 * 32 * 64 + 64) + (64 * n_actions + n_actions)
    count = model.count_params()
    require(count == expected, f"the model has {count:,} parameters, the policy CNN the text describes has {expected:,}")
    return f"policy CNN as specified ({count:,} parameters): (batch, 80, 80, 1) -> (batch, {n_actions}) logits"
