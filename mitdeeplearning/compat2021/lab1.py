"""Lab 1's 2020/21 call forms: the ``test_*`` checks that return ``True``, and the music helpers
with their old returns and the errors that replace their silent failures.

Thin wrappers over today's checks (:mod:`mitdeeplearning.basics_checks`,
:mod:`mitdeeplearning.music_checks`) and music functions (:mod:`mitdeeplearning.music`);
``mdl.lab1`` re-exports them, and ``docs/COMPATIBILITY.md`` lists what each returns.
"""

import os
import pathlib

import numpy as np

from .. import music
from ..basics_checks import check_custom_dense_layer
from ..checks import check, require, to_numpy
from ..music_checks import require_batch_shapes, require_batch_types, require_next_step

__all__ = [
    "test_custom_dense_layer_output",
    "test_batch_func_types",
    "test_batch_func_shapes",
    "test_batch_func_next_step",
    "play_song",
    "play_generated_song",
    "save_song_to_abc",
    "abc2wav",
    "play_wav",
    "PLAY_SONG_REFUSAL",
]


# ----------------------------------------------------------------------------- checks that return True


def _returning_true(name, requirement, doc):
    """The 2020/21 test ``name``: ``requirement`` run as a check (✔ line or hint), then ``True``."""

    def judged(func, args):
        requirement(func, args)
        return name

    judged.__name__ = judged.__qualname__ = name
    checked = check(judged)

    def old_test(func, args):
        checked(func, args)
        return True

    old_test.__name__ = old_test.__qualname__ = name
    old_test.__doc__ = doc
    return old_test


test_batch_func_types = _returning_true(
    "test_batch_func_types", require_batch_types,
    "2020/21: ``func(*args)`` returns two arrays of integer indices; ``True``, or an AssertionError with a hint.")
test_batch_func_shapes = _returning_true(
    "test_batch_func_shapes", require_batch_shapes,
    "2020/21: both batches have shape (batch_size, seq_length); ``True``, or an AssertionError with a hint.")
test_batch_func_next_step = _returning_true(
    "test_batch_func_next_step", require_next_step,
    "2020/21: the targets are the inputs shifted one step; ``True``, or an AssertionError with a hint.")


@check
def _sigmoid_shaped(y):
    y = to_numpy(y)
    require(y.ndim == 2, f"expected a 2-d output (batch, n_output_nodes), got shape {y.shape}")
    require(np.all((y > 0) & (y < 1)), "a sigmoid output lies strictly between 0 and 1; did you apply tf.math.sigmoid?")
    return ("test_custom_dense_layer_output: shape and range only (pass layer= and x= to compare with "
            "sigmoid(x W + b) from the layer's weights)")


def test_custom_dense_layer_output(y, layer=None, x=None):
    """2020/21: ``y`` is a 2-d output strictly inside (0, 1); returns ``True``.

    The 2020/21 function compared ``y`` with seeded values that Keras 3 cannot reproduce, so with
    ``y`` alone only the shape and the sigmoid's range are checked. With ``layer=`` and ``x=`` it
    is today's :func:`~mitdeeplearning.basics_checks.check_custom_dense_layer`: sigmoid(xW + b)
    recomputed from the layer's own weights.
    """
    if layer is None or x is None:
        _sigmoid_shaped(y)
    else:
        check_custom_dense_layer(layer, x, y)
    return True


# ----------------------------------------------------------------------------- music helpers

#: Appended to every InvalidSongError of ``play_song``: the 2020/21 helper returned None for a tune
#: it could not render, and its notebooks tested ``if waveform:``; a loop written so now stops here.
PLAY_SONG_REFUSAL = (
    "play_song raises InvalidSongError for a tune it cannot play (the 2020/21 helper returned "
    "None, which `if waveform:` skipped without a word). To skip such tunes, catch "
    "mdl.lab1.InvalidSongError, test mdl.lab1.is_valid_song(song) first, or call "
    "mdl.lab1.play_generated_song(generated_text), which plays only the valid tunes."
)


def play_song(song, **options):
    """Today's :func:`~mitdeeplearning.music.play_song`; its error also says what replaces the
    2020/21 ``if waveform:`` test, since the old helper returned ``None`` for a tune it could not play."""
    try:
        return music.play_song(song, **options)
    except music.InvalidSongError as exc:
        raise music.InvalidSongError(f"{exc}. {PLAY_SONG_REFUSAL}") from exc


def play_generated_song(generated_text, **options):
    """Today's :func:`~mitdeeplearning.music.play_generated_song`; its error also says that the
    2020/21 helper printed a message and returned ``None`` where no tune was valid."""
    try:
        return music.play_generated_song(generated_text, **options)
    except music.InvalidSongError as exc:
        raise music.InvalidSongError(f"{exc} (The 2020/21 helper printed a message here and returned None.)") from exc


def save_song_to_abc(song, filename="tmp"):
    """Write ``song`` to ``<filename>.abc``; returns ``filename`` (as the 2020/21 helper did)."""
    pathlib.Path(f"{filename}.abc").write_text(song)
    return filename


def abc2wav(abc_file, wav_file=None, **options):
    """Today's :func:`~mitdeeplearning.music.abc_file_to_wav`, returning ``0``.

    ``0`` is what the 2020/21 helper returned on success (the exit status of its shell script), so
    ``if abc2wav(f) == 0:`` still works. Where that helper returned a non-zero status, this raises
    :class:`~mitdeeplearning.music.InvalidSongError` saying why.
    """
    music.abc_file_to_wav(abc_file, wav_file, **options)
    return 0


def play_wav(wav_file):
    """An ``IPython.display.Audio`` for a WAV file; a missing file raises ``FileNotFoundError``."""
    from IPython.display import Audio

    if not os.path.isfile(wav_file):
        raise FileNotFoundError(f"no WAV file at {wav_file}; create one with abc2wav(...)")
    return Audio(filename=str(wav_file))
