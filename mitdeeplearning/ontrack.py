"""Am I on track? A training loop's measured reference, and a verdict when training ends.

Every training loop in the labs has a *reference*: the solution's curve over several seeds at one
profile's settings, reduced to a median and a 10-90 % band on a grid. ``make bench`` measures them
and writes one JSON file per loop and profile into ``mitdeeplearning/assets/reference/`` (the
format is described in that folder's README). This module reads them and judges a run:

    ref = load_reference("lab3.cartpole", settings=knobs)     # the profile whose settings match best
    plotter = mdl.util.PeriodicPlotter(5, reference=ref, settings=knobs)   # draws the band
    ...
    print(verdict("lab3.cartpole", episodes, smoothed_rewards, ref, settings=knobs, seconds=s, work=steps))

Where nothing shipped speaks for the run, both say so in one line instead of guessing: a run whose
training budget (its loop's ``budget`` knob) is more than :data:`BUDGET_REACH` times the longest
budget measured has no reference (:class:`NoReference`; the plot draws the run alone and the verdict
is "no verdict"), and a reference measured at a budget too short for the solution itself to learn
(``learns`` false, such as a smoke profile's) draws its band but gives no verdict on learning.

It imports NumPy only (no TensorFlow, no matplotlib).
"""

import dataclasses
import json
import math
import pathlib

import numpy as np

__all__ = ["LOOPS", "NoReference", "Reference", "ReferenceError", "Verdict", "load_reference", "list_references",
           "verdict"]

#: Where the shipped references live: ``<loop>.<profile>.json``.
REFERENCE_DIR = pathlib.Path(__file__).resolve().parent / "assets" / "reference"

FORMAT = 1  # the version of the JSON layout; a reader refuses any other

LABELS = ("on track", "slower than the reference but improving", "not learning", "diverged", "suspiciously good",
          "no verdict")

# The verdict's thresholds, in units of the reference's progress: 0 is the start level, 1 the
# reference's median where it ended.
NOT_LEARNING_BELOW = 0.2  # a run that got less than 20 % of the way has not learned
SLACK = 0.05              # a run may end this far below the band's worse edge and still be on track
IMPROVING_BY = 0.02       # the last quarter must beat the quarter before it by this much
DIVERGED_BELOW = -0.5     # ending worse than the start by half the reference's progress: a blow-up
COLLAPSE_FROM = 0.5       # a run that got this far and then fell back under NOT_LEARNING_BELOW collapsed
TOO_GOOD_BY = 0.25        # at the reference's own settings, ending this far beyond the band's better edge:
                          # no correct run gets there, the loop learns an easier task than the lab's

#: A reference speaks for runs whose budget is at most this many times the budget it was measured
#: with; beyond, its band would cover only the first part of the run, and no reference is used.
BUDGET_REACH = 4


@dataclasses.dataclass(frozen=True)
class Loop:
    """What the verdict knows about one training loop besides its measured reference."""

    title: str
    better: str  # "lower" (a loss) or "higher" (a reward)
    not_learning: tuple  # the most likely causes, most likely first
    diverged: tuple
    budget: str = None  # the notebook knob that sets how far the loop trains (its x range), where one does
    too_good: tuple = ()  # the likely causes of a run far better than any correct one (default: TOO_GOOD_CAUSES)


#: Every training loop of the labs, by id. The causes name the mistakes that let a run through its
#: checks and still keep it from learning, most likely first.
LOOPS = {
    "lab1.music.loss": Loop(
        "Lab 1 part 2: the music LSTM's training loss",
        "lower",
        (
            "a loss that stays near ln(vocabulary size), about 4.5, is a uniform guess: the weights are not "
            "updated (the loss computed outside the GradientTape, or apply_gradients not called) or the loss "
            "gets probabilities where it expects logits (from_logits)",
            "a loss that falls a little and then stays flat has learnt only how often each character occurs: "
            "the targets are not the inputs shifted by one character (y must be x moved one step along the text)",
            "a learning rate far too small (check the parameters cell)",
        ),
        (
            "the learning rate is too large for an LSTM: lower learning_rate",
            "the gradient clipping (clip_norm) was removed or set very high: long sequences make the gradients explode",
        ),
        budget="num_training_iterations",
        too_good=(
            "the targets equal the inputs, so the model only learns to copy the character it is shown: take the "
            "targets one character later, vectorized_songs[i + 1 : i + seq_length + 1]",
        ),
    ),
    "lab2.mnist.fc": Loop(
        "Lab 2 part 1: the fully connected model's training loss",
        "lower",
        (
            "a loss near ln 10, about 2.30, is a guess among ten digits (accuracy near 10 %): the last Dense "
            "layer has no softmax while the loss expects probabilities, or the images and labels were "
            "shuffled separately",
            "the pixels were not scaled to [0, 1] (divide by 255)",
            "the learning rate is far too small or too large for SGD",
        ),
        (
            "the learning rate is too large for SGD: lower fc_learning_rate",
            "the pixels were not scaled to [0, 1] (values up to 255 make the first steps huge)",
        ),
        budget="fc_epochs",
    ),
    "lab2.mnist.cnn": Loop(
        "Lab 2 part 1: the CNN's training loss",
        "lower",
        (
            "a loss near ln 10, about 2.30, is a guess among ten digits (accuracy near 10 %): the last Dense "
            "layer has no softmax while the loss expects probabilities, or the images and labels were "
            "shuffled separately",
            "the pixels were not scaled to [0, 1] (divide by 255)",
            "the learning rate is far too small or too large for Adam",
        ),
        (
            "the learning rate is too large for Adam: lower cnn_learning_rate",
            "the pixels were not scaled to [0, 1]",
        ),
        budget="cnn_epochs",
    ),
    "lab2.mnist.loop": Loop(
        "Lab 2 part 1: the hand-written GradientTape loop's loss",
        "lower",
        (
            "a loss near ln 10, about 2.30, is a guess among ten digits: the gradients are not applied to "
            "model.trainable_variables, or the loss is computed outside the GradientTape",
            "the labels come from a different batch than the images (index both with the same batch indices)",
            "the learning rate is far too small for SGD",
        ),
        (
            "the learning rate is too large for SGD: lower loop_learning_rate",
            "the loss takes the model's softmax output as logits, or logits as probabilities (from_logits)",
        ),
        budget="loop_steps",
    ),
    "lab2.debias.cnn": Loop(
        "Lab 2 part 2: the standard face classifier's loss",
        "lower",
        (
            "a loss near ln 2, about 0.69, is a coin flip: the labels do not belong to the images of the batch, "
            "or the weights are not updated",
            "a loss that cannot go below about 0.5: the model ends with a sigmoid while "
            "sigmoid_cross_entropy_with_logits expects logits",
            "the learning rate is far too small",
        ),
        ("the learning rate is too large for Adam: lower learning_rate",),
        budget="train_steps",
    ),
    "lab2.debias.dbvae": Loop(
        "Lab 2 part 2: the DB-VAE's loss",
        "lower",
        (
            "the VAE loss is not limited to faces: mask the reconstruction and KL terms with the face label",
            "the reparameterisation does not sample: z must be mean + exp(0.5 * logvar) * noise",
            "the weights are not updated (the loss computed outside the GradientTape)",
        ),
        (
            "the KL term has the wrong sign or uses exp(logvar) where it needs logvar: the loss then runs away",
            "the learning rate is too large for Adam: lower learning_rate",
        ),
        budget="train_steps",
    ),
    "lab3.cartpole": Loop(
        "Lab 3: Cart-Pole reward per episode",
        "higher",
        (
            "a reward flat near 20 (a random policy balances about 20 steps) or falling: the loss's sign; "
            "REINFORCE minimises -log pi(a|s) * G, and a loss of +log pi * G pushes the policy away from good actions",
            "the returns are not discounted from the end of the episode backwards, or not normalised",
            "the actions stored do not belong to the observations stored beside them (the memory is out of step)",
        ),
        (
            "the reward rose and then collapsed: the learning rate is too large (lower cartpole_learning_rate)",
            "the returns are not normalised (subtract their mean, divide by their standard deviation)",
        ),
        budget="cartpole_max_episodes",
    ),
    "lab3.pong": Loop(
        "Lab 3: Pong points won per game",
        "higher",
        (
            "points won flat near a random agent's (about 0.5 per game) or falling: the advantage's sign "
            "(minimise -log pi(a|s) * A; pong_loss minimises minus the clipped objective) or advantages not "
            "normalised over the batch",
            "the discounted return does not restart at every point (the rally), so every action gets the game's outcome",
            "the observations the agent learns from differ from those it acted on (frame difference, preprocessing)",
        ),
        (
            "the policy collapsed onto one action: the entropy bonus has the wrong sign or is missing",
            "the learning rate is too large for Adam: lower pong_learning_rate",
            "each batch moves the policy too far: fewer passes or minibatches (pong_update_epochs, "
            "pong_minibatches), a smaller pong_clip, or the ratio not clipped",
        ),
        budget="pong_agent_steps",
    ),
}

TOO_GOOD_CAUSES = (
    "the targets leak into the inputs (the model is shown the answer), or the loss is not the one the reference "
    "measures (a different reduction or scale)",
)

SLOWER_CAUSES = (
    "a learning rate too small, fewer steps than the reference, a smaller model or data left unshuffled "
    "all slow a run down: compare the parameters cell with the reference's settings",
)


class ReferenceError(ValueError):
    """A reference file is missing, malformed, or does not belong to the loop asked for."""


class NoReference(ReferenceError):
    """No shipped reference of the loop can speak for the run: none was measured at settings near the
    run's, or none of the loop is shipped at all (the plot then draws the run alone, the verdict says why)."""


def _known_loop(loop):
    if loop not in LOOPS:
        raise ReferenceError(f"unknown training loop {loop!r}; the labs' loops are: {', '.join(LOOPS)}")
    return LOOPS[loop]


class Reference:
    """One loop's measured reference at one profile: a median and a band on a grid of x values.

    ``data`` is the parsed JSON (see the README of ``mitdeeplearning/assets/reference``); it is
    checked on construction, and anything malformed raises :class:`ReferenceError` naming the field.
    """

    def __init__(self, data, source="given as a dict"):
        self.source = str(source)
        self.data = data
        where = f"reference {source}"

        def need(condition, message):
            if not condition:
                raise ReferenceError(f"{where}: {message}. Regenerate it with `make bench`.")

        need(isinstance(data, dict), f"expected a JSON object, got {type(data).__name__}")
        need(data.get("format") == FORMAT, f"format {data.get('format')!r}, this reader reads format {FORMAT}")
        missing = [k for k in ("loop", "profile", "x", "y", "start", "after_end", "seeds", "settings", "band",
                               "grid", "median", "lower", "upper", "count", "speed", "versions", "machine", "date")
                   if k not in data]
        need(not missing, f"missing field(s) {', '.join(missing)}")
        self.loop = data["loop"]
        self.profile = data["profile"]
        need(self.loop in LOOPS, f"unknown loop {self.loop!r}")
        need(isinstance(self.profile, str) and self.profile, "profile must be a non-empty string")
        for axis in ("x", "y"):
            need(isinstance(data[axis], dict) and isinstance(data[axis].get("label"), str)
                 and isinstance(data[axis].get("unit"), str), f"{axis} needs a label and a unit (strings)")
        self.better = data["y"].get("better")
        need(self.better == LOOPS[self.loop].better,
             f"y.better is {self.better!r}, but {self.loop} is a curve where {LOOPS[self.loop].better} is better")
        need(data["after_end"] in ("drop", "hold"), f"after_end must be 'drop' or 'hold', got {data['after_end']!r}")
        need(isinstance(data["seeds"], list) and len(data["seeds"]) >= 2, "seeds must list at least two seeds")
        need(isinstance(data["settings"], dict), "settings must be an object (knob -> value)")
        arrays = {}
        for key in ("grid", "median", "lower", "upper", "count"):
            value = data[key]
            need(isinstance(value, list) and len(value) >= 2, f"{key} must be a list of at least two numbers")
            try:
                arrays[key] = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                arrays[key] = None
            need(arrays[key] is not None, f"{key} holds something that is not a number")
            need(arrays[key].ndim == 1 and np.isfinite(arrays[key]).all(), f"{key} must hold finite numbers only")
            need(len(arrays[key]) == len(arrays["grid"]),
                 f"{key} has {len(arrays[key])} values but the grid has {len(arrays['grid'])}")
        self.grid, self.median, self.lower, self.upper = (arrays[k] for k in ("grid", "median", "lower", "upper"))
        self.count = arrays["count"].astype(int)
        need((np.diff(self.grid) > 0).all(), "the grid must be strictly increasing")
        need((self.lower <= self.median).all() and (self.median <= self.upper).all(),
             "the band must satisfy lower <= median <= upper at every grid point")
        need((self.count >= 2).all() and (self.count <= len(data["seeds"])).all(),
             "count must be between 2 and the number of seeds at every grid point")
        need(isinstance(data["start"], (int, float)) and math.isfinite(data["start"]), "start must be a finite number")
        self.start = float(data["start"])
        self.learns = data.get("learns", True)  # false: measured at a budget too short for the solution to learn
        need(isinstance(self.learns, bool), f"learns must be true or false, got {self.learns!r}")
        need(not self.learns or (self.median[-1] - self.start) * (1 if self.better == "higher" else -1) > 0,
             f"the median ends at {self.median[-1]:.4g}, no better than the start level {self.start:.4g}: "
             "this reference shows no learning (a budget too short to learn is marked \"learns\": false)")
        speed = data["speed"]
        need(isinstance(speed, dict) and isinstance(speed.get("unit"), str) and "seconds_per_unit" in speed,
             "speed needs a unit and seconds_per_unit (null when not measured)")
        spu = speed["seconds_per_unit"]
        need(spu is None or (isinstance(spu, (int, float)) and spu > 0), "speed.seconds_per_unit must be positive or null")
        self.seconds_per_unit = None if spu is None else float(spu)
        self.speed_unit = speed["unit"]
        self.x_label, self.x_unit = data["x"]["label"], data["x"]["unit"]
        self.y_label, self.y_unit = data["y"]["label"], data["y"]["unit"]
        self.after_end = data["after_end"]
        self.seeds = list(data["seeds"])
        self.settings = dict(data["settings"])

    def __repr__(self):
        span = f"{self.x_unit} {self.grid[0]:g} to {self.grid[-1]:g}"
        return f"<Reference {self.loop} ({self.profile}): {len(self.seeds)} seeds, {span}>"

    def at(self, x):
        """(lower, median, upper) at ``x``, interpolated on the grid (the end values beyond it)."""
        return tuple(float(np.interp(x, self.grid, a)) for a in (self.lower, self.median, self.upper))

    def progress(self, y):
        """How far ``y`` is from the start level toward the median's last value: 0 at the start, 1 there."""
        sign = 1.0 if self.better == "higher" else -1.0
        return sign * (np.asarray(y, dtype=float) - self.start) / (sign * (self.median[-1] - self.start))

    def worse_edge(self):
        """The band's edge on the worse side (upper for a loss, lower for a reward), at every grid point."""
        return self.upper if self.better == "lower" else self.lower

    def differences(self, settings):
        """The knobs whose value in ``settings`` differs from the one the reference was measured with.

        Returns ``[(knob, your value, reference value), ...]``. Only the knobs the reference records
        (those that change the curve) are compared; knobs ``settings`` does not name are not.
        """
        if settings is None:
            return []
        if not isinstance(settings, dict):
            raise TypeError(f"settings must be a dict of knob -> value, got {type(settings).__name__}")
        return [(knob, settings[knob], value) for knob, value in self.settings.items()
                if knob in settings and not _same_value(settings[knob], value)]

    def legend(self, settings=None):
        """The one-line legend: ``reference: 5 seeds, default settings`` (``guide only`` when knobs differ;
        ``too short to learn yet`` when the reference itself has not started learning at its budget)."""
        guide = " (guide only)" if self.differences(settings) else ""
        early = ", too short to learn yet" if not self.learns else ""
        return f"reference{guide}: {len(self.seeds)} seeds, {self.profile} settings{early}"

    def draw(self, ax, settings=None, x_scale=1.0):
        """Draw the band and the median on matplotlib ``ax``, behind whatever is plotted on top.

        The one drawing of a reference: the notebooks' live plots and the report's figures both use
        it. Knobs in ``settings`` that differ from the reference's make it a guide only (fainter band,
        dashed median). ``x_scale`` multiplies the grid (e.g. ``1e-6`` for millions of steps).
        Returns the band and the median line; their gids are ``mdl-reference-band`` and
        ``mdl-reference-median``.
        """
        guide = bool(self.differences(settings))
        grid = self.grid * x_scale
        band = ax.fill_between(grid, self.lower, self.upper, color="0.5", alpha=0.12 if guide else 0.3,
                               linewidth=0, label=self.legend(settings), zorder=1)
        band.set_gid("mdl-reference-band")
        (median,) = ax.plot(grid, self.median, color="0.35", linewidth=1.0, linestyle="--" if guide else "-",
                            label="_reference median", zorder=2)  # "_": not a second legend line
        median.set_gid("mdl-reference-median")
        return band, median

    def differences_note(self, settings):
        """``''``, or one line naming the knobs that differ: ``guide only: your lr=0.001 (reference 0.01)``."""
        differs = self.differences(settings)
        if not differs:
            return ""
        return "guide only, measured with other settings: " + ", ".join(
            f"your {knob}={_short(mine)} (reference {_short(theirs)})" for knob, mine, theirs in differs)


def _same_value(a, b):
    numbers = (int, float, np.number)
    if isinstance(a, bool) or isinstance(b, bool) or not (isinstance(a, numbers) and isinstance(b, numbers)):
        return a == b or str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)


def _short(value):
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def list_references(directory=None):
    """The shipped references as ``[(loop, profile), ...]``, sorted."""
    folder = pathlib.Path(directory) if directory is not None else REFERENCE_DIR
    found = []
    for path in sorted(folder.glob("*.json")):
        loop, _, profile = path.stem.rpartition(".")
        if loop:
            found.append((loop, profile))
    return found


def load_reference(loop, profile=None, settings=None, directory=None):
    """The measured reference of ``loop`` (an id of :data:`LOOPS`) at ``profile``.

    With ``profile=None`` it picks, among the shipped profiles, the one whose settings differ least
    from ``settings`` (``default`` on a tie or without settings), among those whose budget reaches
    the run's; :class:`NoReference` (a :class:`ReferenceError`) when none does or none is shipped. Raises
    :class:`ReferenceError` (a ``ValueError``) for an unknown loop, a missing profile or a malformed
    file, saying which.
    """
    _known_loop(loop)
    folder = pathlib.Path(directory) if directory is not None else REFERENCE_DIR
    shipped = [p for (name, p) in list_references(folder) if name == loop]
    if profile is None:
        if not shipped:
            raise NoReference(
                f"no reference for {loop} in {folder}: `make bench` measures the references and writes them there")
        candidates = sorted(shipped, key=lambda p: (p != "default", p))
        if settings is not None:
            loaded = [load_reference(loop, p, directory=folder) for p in candidates]
            reaching = _within_reach(loop, loaded, settings)
            return min(reaching, key=lambda r: len(r.differences(settings)))  # min keeps the first on a tie
        profile = candidates[0]
    path = folder / f"{loop}.{profile}.json"
    if not path.is_file():
        have = ", ".join(shipped) if shipped else "none"
        raise ReferenceError(
            f"no reference for {loop} at the {profile!r} profile ({path} does not exist; profiles shipped: {have}). "
            "`make bench` measures the references.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReferenceError(f"reference {path} is not valid JSON ({exc}). Regenerate it with `make bench`.") from None
    reference = Reference(data, source=path)
    if (reference.loop, reference.profile) != (loop, profile):
        raise ReferenceError(f"reference {path} holds {reference.loop} ({reference.profile}), not {loop} ({profile})")
    return reference


def _within_reach(loop, references, settings):
    """The references whose budget reaches the run's (all of them where the loop or the run names none).

    Raises :class:`NoReference`, in one line, when the run's budget is more than :data:`BUDGET_REACH`
    times that of every reference measured.
    """
    knob = LOOPS[loop].budget
    numbers = (int, float, np.number)
    budget = settings.get(knob) if knob and isinstance(settings, dict) else None
    if not isinstance(budget, numbers) or isinstance(budget, bool):
        return references
    reaching = [r for r in references
                if not isinstance(r.settings.get(knob), numbers) or budget <= BUDGET_REACH * r.settings[knob]]
    if not reaching:
        longest = max(references, key=lambda r: r.settings[knob])
        raise NoReference(
            f"no reference measured for these settings: your {knob}={_short(budget)}, the longest run measured "
            f"had {_short(longest.settings[knob])} ({longest.profile} profile), too short to compare with")
    return reaching


def as_reference(loop, reference=None, settings=None):
    """A :class:`Reference` from what a notebook may pass: one, its JSON dict, a profile name, or None."""
    if isinstance(reference, Reference):
        found = reference
    elif isinstance(reference, dict):
        found = Reference(reference)
    elif reference is None or isinstance(reference, str):
        found = load_reference(loop, profile=reference, settings=settings)
    else:
        raise TypeError(f"reference must be a Reference, its dict or a profile name, got {type(reference).__name__}")
    if found.loop != loop:
        raise ReferenceError(f"the reference given is {found.loop}'s, not {loop}'s")
    return found


@dataclasses.dataclass
class Verdict:
    """The judgement of one finished run. ``str()`` is the verdict line, then the likely causes,
    notes and the speed, one per line; ``label`` is one of :data:`LABELS` ("no verdict" where no
    measured reference can judge the run: its line says why)."""

    loop: str
    label: str
    line: str
    causes: tuple = ()
    notes: tuple = ()
    speed: str = ""
    progress: float = float("nan")  # 0 at the start level, 1 at the reference's final median
    final: float = float("nan")

    def __str__(self):
        lines = [self.line]
        lines += [f"  likely cause: {c}" for c in self.causes]
        lines += [f"  note: {n}" for n in self.notes]
        if self.speed:
            lines.append(f"  {self.speed}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):  # a cell ending with verdict(...) shows the text
        printer.text(str(self))


def _fmt(y):
    return f"{y:.3g}" if abs(y) < 1000 else f"{y:,.0f}"


def _fmt_x(x):
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:.3g}"


def verdict(loop, xs, ys, reference=None, settings=None, seconds=None, work=None):
    """Judge a finished run of ``loop`` against its reference.

    ``xs``, ``ys``: the run's curve, the same series the plot shows (for a loss, the smoothed
    ``LossHistory``). ``reference``: a :class:`Reference`, or a profile name, or None to pick the
    profile matching ``settings`` (the run's knobs; knobs that differ from the reference's are
    named, and the band becomes a guide). ``seconds``: the training time; ``work``: how many of the
    reference's speed units the run did (default: the x span, e.g. steps). Returns a :class:`Verdict`.

    The rules, in progress units (0 = the start level, 1 = the reference's median at its end):
    the run's *final* value is the median of its last tenth, compared with the band where the
    reference ended. Any NaN/inf, or a final value worse than the start by half the reference's
    progress, or a fall back under 0.2 after reaching 0.5: *diverged*. Final progress under 0.2:
    *not learning*. At most 0.05 below the band's worse edge: *on track*, unless, with the
    reference's own settings, it ends more than 0.25 beyond the band's better edge: *suspiciously
    good* (no correct run gets there; the loop learns an easier task). A run that stopped before the
    reference's end (its budget is shorter) is on track only inside the band; within that margin of
    it, it is *slower than the reference*: it has not got where the reference ends. Otherwise, if its last
    quarter beats the quarter before by 0.02: *slower than the reference but improving*; if not,
    *not learning* (it stalled). *No verdict*, with the reason in its line, where nothing measured
    can judge the run: no reference reaches the run's budget (:class:`NoReference`), the reference
    was measured at a budget too short for the solution itself to learn, or the run has fewer than
    two points.
    """
    info = _known_loop(loop)
    try:
        ref = as_reference(loop, reference, settings)
    except NoReference as missing:
        ref, no_reference = None, str(missing)
    xs = np.asarray(xs, dtype=float).ravel()
    ys = np.asarray(ys, dtype=float).ravel()
    if len(xs) != len(ys):
        raise ValueError(f"verdict: {len(xs)} x values but {len(ys)} y values")
    if not np.isfinite(xs).all() or (np.diff(xs) <= 0).any():
        raise ValueError("verdict: xs must be finite and strictly increasing (steps, episodes or agent steps)")

    unit, what = (ref.x_unit, ref.y_label) if ref is not None else ("x", "curve")
    notes = []
    note = ref.differences_note(settings) if ref is not None else ""
    if note:
        notes.append(note)
    speed = _speed_line(ref, xs, seconds, work) if ref is not None and (len(xs) >= 2 or work is not None) else ""

    def done(label, line, causes=(), progress=float("nan"), final=float("nan")):
        lead = "No verdict" if label == "no verdict" else f"Verdict: {label}"
        return Verdict(loop, label, f"{lead}: {line}", tuple(causes), tuple(notes), speed, progress, final)

    bad = np.flatnonzero(~np.isfinite(ys))
    if bad.size:
        return done("diverged", f"the {what} became {ys[bad[0]]} at {unit} {_fmt_x(xs[bad[0]])}", info.diverged)
    if ref is None:
        return done("no verdict", f"{no_reference}; your run is shown alone")
    if len(ys) < 2:
        return done("no verdict", f"the run has {len(ys)} point(s) on its curve; a verdict needs at least two "
                    f"(train for more {unit}s)")
    if not ref.learns:
        return _too_short_to_judge(ref, xs, ys, done)

    k = max(1, math.ceil(len(ys) / 10))
    final = float(np.median(ys[-k:]))
    progress = float(ref.progress(final))
    x_end = xs[-1]
    lo, med, hi = ref.lower[-1], ref.median[-1], ref.upper[-1]
    edge = float(ref.worse_edge()[-1])
    edge_progress = float(ref.progress(edge))
    rolling = np.array([np.median(ys[i:i + k]) for i in range(len(ys) - k + 1)])
    peak = float(np.max(ref.progress(rolling)))
    where = f"{what} {_fmt(final)} at {unit} {_fmt_x(x_end)}"
    there = (f"the reference ({len(ref.seeds)} seeds) reached {_fmt(med)} at {unit} {_fmt_x(ref.grid[-1])} "
             f"(band {_fmt(lo)} to {_fmt(hi)})")
    if edge_progress < 0.3:
        notes.append(f"at this budget even the reference's slower seeds get only {edge_progress:.0%} of the way "
                     "from the start level: the verdict is rough")
    stopped_early = x_end < 0.95 * ref.grid[-1] and ref.after_end == "drop"
    if stopped_early:
        ref_then = ref.at(x_end)[1]
        notes.append(f"your run stopped at {unit} {_fmt_x(x_end)}, the reference went on to {_fmt_x(ref.grid[-1])} "
                     f"(at {unit} {_fmt_x(x_end)} its median was {_fmt(ref_then)})")

    if progress < DIVERGED_BELOW:
        return done("diverged", f"{where}, worse than the start level {_fmt(ref.start)}; {there}",
                    info.diverged, progress, final)
    if peak >= COLLAPSE_FROM and progress < NOT_LEARNING_BELOW:
        best = float(rolling[np.argmax(ref.progress(rolling))])
        return done("diverged", f"the {what} reached {_fmt(best)}, then fell back to {_fmt(final)} at {unit} "
                    f"{_fmt_x(x_end)}, near the start level {_fmt(ref.start)}", info.diverged, progress, final)
    if progress < NOT_LEARNING_BELOW:
        return done("not learning", f"{where}, still near the start level {_fmt(ref.start)}; {there}",
                    info.not_learning, progress, final)
    share = f"{progress:.0%} of the way from the start level {_fmt(ref.start)}; {there}"
    if stopped_early and edge_progress - SLACK <= progress < edge_progress:
        return done("slower than the reference but improving", f"{where}, just outside the band where the reference "
                    f"ended, {share}", SLOWER_CAUSES, progress, final)
    if progress >= edge_progress - SLACK:
        better_edge = hi if ref.better == "higher" else lo
        if progress > float(ref.progress(better_edge)) + TOO_GOOD_BY and not ref.differences(settings):
            return done("suspiciously good", f"{where}, far beyond the reference's band although your settings are "
                        f"its settings: correct runs do not get there; {there}", info.too_good or TOO_GOOD_CAUSES,
                        progress, final)
        if progress > float(ref.progress(better_edge)):
            side = "better than the reference's band"
        elif progress >= edge_progress:
            side = "inside the reference's band"
        else:
            side = "just outside the reference's band, within its margin"
        return done("on track", f"{where}, {side}; {there}", (), progress, final)
    q = max(1, len(ys) // 4)
    last, before = float(np.median(ys[-q:])), float(np.median(ys[-2 * q:-q]))
    gain = float(ref.progress(last) - ref.progress(before))
    if gain >= IMPROVING_BY:
        return done("slower than the reference but improving", f"{where}, {share}", SLOWER_CAUSES, progress, final)
    return done("not learning", f"{where}, stalled {share}", info.not_learning + SLOWER_CAUSES, progress, final)


def _too_short_to_judge(ref, xs, ys, done):
    """The verdict against a reference whose own seeds have not started learning at its budget."""
    k = max(1, math.ceil(len(ys) / 10))
    final, x = float(np.median(ys[-k:])), float(np.clip(xs[-1], ref.grid[0], ref.grid[-1]))
    lo, _, hi = ref.at(x)
    side = "inside" if lo <= final <= hi else ("above" if final > hi else "below")
    return done("no verdict", f"at this budget even the reference has not started to learn ({len(ref.seeds)} seeds "
                f"between {_fmt(lo)} and {_fmt(hi)} at {ref.x_unit} {_fmt_x(x)}, start level "
                f"{_fmt(ref.start)}); your {ref.y_label} {_fmt(final)} is {side} that band. A longer budget is "
                "needed to judge learning", final=final)


def _speed_line(ref, xs, seconds, work):
    if seconds is None:
        return ""
    if not (isinstance(seconds, (int, float, np.number)) and seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"verdict: seconds must be a positive number, got {seconds!r}")
    if work is None:
        spacing = float(np.median(np.diff(xs)))
        work = xs[-1] - xs[0] + spacing  # steps 0..n-1 are n steps; epochs 1..5 are 5 epochs
    if not work > 0:
        raise ValueError(f"verdict: work must be a positive number of {ref.speed_unit}s, got {work!r}")
    mine = float(seconds) / float(work)
    if ref.seconds_per_unit is None:
        return f"speed: {mine:.3g} s per {ref.speed_unit} (the reference's speed was not measured)"
    ratio = ref.seconds_per_unit / mine
    machine = ref.data.get("machine", {})
    on = f" on {machine['cpu_count']} CPU cores" if isinstance(machine, dict) and machine.get("cpu_count") else ""
    shown = f"{ratio:.2g}" if ratio < 10 else f"{ratio:.0f}"
    return (f"speed: your machine ran this at {shown}x the reference's speed ({mine:.3g} s per {ref.speed_unit} "
            f"against {ref.seconds_per_unit:.3g} s{on})")
