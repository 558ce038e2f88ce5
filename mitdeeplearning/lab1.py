"""Lab 1: TensorFlow basics (part 1) and music generation with an LSTM (part 2).

The names the lab's notebooks call, gathered from the modules that hold them:

* the part 1 checks (:mod:`.basics_checks`);
* ABC tunes: loading, splitting, validating, playing and drawing them (:mod:`.music`);
* the part 2 checks (:mod:`.music_checks`);
* the 2020/21 course notebooks' names and meanings (:mod:`.compat2021.lab1`): the ``test_*``
  checks that return ``True``, and the music helpers with their old returns.

Importing it is cheap: TensorFlow and music21 load when a function needs them.
"""

from .basics_checks import (
    check_custom_dense_layer,
    check_func,
    check_gradient,
    check_identity_model,
    check_images,
    check_matrix,
    check_sequential_model,
    check_sgd,
    check_subclass_model,
)
from .compat2021.lab1 import (
    abc2wav,
    play_generated_song,
    play_song,
    play_wav,
    save_song_to_abc,
    test_batch_func_next_step,
    test_batch_func_shapes,
    test_batch_func_types,
    test_custom_dense_layer_output,
)
from .music import (
    SAMPLE_RATE,
    InvalidSongError,
    SongReport,
    abc_file_to_wav,
    clean_tune,
    extract_song_snippet,
    is_valid_song,
    load_training_data,
    parse_song,
    plot_song,
    song_notes,
    summarize_songs,
    synthesize_song,
    validate_song,
)
from .music_checks import (
    check_batch,
    check_loss,
    check_model,
    check_sampling,
    check_train_step,
    check_vectorize,
    check_vocabulary,
)

__all__ = [
    # part 1 checks
    "check_matrix", "check_images", "check_func", "check_custom_dense_layer", "check_sequential_model",
    "check_subclass_model", "check_identity_model", "check_gradient", "check_sgd",
    # music
    "SAMPLE_RATE", "InvalidSongError", "SongReport", "abc_file_to_wav", "clean_tune", "extract_song_snippet",
    "is_valid_song", "load_training_data", "parse_song", "plot_song", "song_notes", "summarize_songs",
    "synthesize_song", "validate_song",
    # part 2 checks
    "check_vocabulary", "check_vectorize", "check_batch", "check_model", "check_loss", "check_train_step",
    "check_sampling",
    # the 2020/21 names (compat2021.lab1)
    "play_song", "play_generated_song", "save_song_to_abc", "abc2wav", "play_wav",
    "test_custom_dense_layer_output", "test_batch_func_types", "test_batch_func_shapes", "test_batch_func_next_step",
]
