"""The 2020/21 course notebooks' calls: each lab 1 / lab 2 / util helper, called as those notebooks
call it, returns what it returned then (type, dtype, range, shape, channel order), or refuses with
a message that says what changed and what to call instead. docs/COMPATIBILITY.md lists them all.
"""

import io
import pathlib
import wave

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from IPython.display import Audio  # noqa: E402

import mitdeeplearning as mdl  # noqa: E402
from mitdeeplearning import faces  # noqa: E402

TUNE = """X:1
T:Test Reel
M:4/4
L:1/8
K:G
GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|GABc dedB|dedB dedB|c2ec B2dB|A2F2 G4||"""

# ------------------------------------------------------------------------------------ lab 1


def test_load_training_data_returns_a_list_of_abc_strings():
    songs = mdl.lab1.load_training_data()
    assert isinstance(songs, list) and len(songs) > 800
    assert all(isinstance(s, str) and s.startswith("X:") and "K:" in s for s in songs)
    # the 2021 notebook joins them and builds its vocabulary from the characters
    vocab = sorted(set("\n\n".join(songs)))
    assert 40 < len(vocab) < 120


def test_extract_song_snippet_returns_a_list_of_strings():
    text = "garbage before\n\n" + TUNE + "\n\n" + TUNE.replace("X:1", "X:2")
    songs = mdl.lab1.extract_song_snippet(text)
    assert isinstance(songs, list) and len(songs) == 2
    assert all(isinstance(s, str) and s.startswith("X:") for s in songs)


def test_play_song_returns_a_truthy_audio_for_a_good_tune():
    waveform = mdl.lab1.play_song(TUNE)
    assert isinstance(waveform, Audio) and waveform  # the 2021 loop tested `if waveform:`
    with wave.open(io.BytesIO(waveform.data)) as f:
        assert f.getnframes() > 0


@pytest.mark.parametrize("bad", ["", "X:1\nK:G\nqqq rrr", "no tune at all"])
def test_play_song_refuses_a_bad_tune_and_says_what_to_call_instead(bad):
    with pytest.raises(mdl.lab1.InvalidSongError) as info:
        mdl.lab1.play_song(bad)
    message = str(info.value)
    assert "returned None" in message and "if waveform:" in message
    for remedy in ("InvalidSongError", "is_valid_song", "play_generated_song"):
        assert remedy in message


def test_the_2021_generation_loop_works_when_written_as_the_error_says():
    generated = TUNE + "\n\nX:2\nK:G\nqqq\n\n" + TUNE.replace("X:1", "X:3")
    played = []
    for song in mdl.lab1.extract_song_snippet(generated):
        try:
            waveform = mdl.lab1.play_song(song)
        except mdl.lab1.InvalidSongError:
            continue
        if waveform:
            played.append(song)
    assert len(played) == 2


def test_play_generated_song_returns_the_valid_tunes_and_refuses_none(capsys):
    valid = mdl.lab1.play_generated_song(TUNE + "\n\nX:2\nK:G\nqqq")
    assert valid == [TUNE]
    with pytest.raises(mdl.lab1.InvalidSongError, match="2020/21 helper printed"):
        mdl.lab1.play_generated_song("X:2\nK:G\nqqq")


def test_file_helpers_keep_their_2020_returns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    basename = mdl.lab1.save_song_to_abc(TUNE)
    assert basename == "tmp" and pathlib.Path("tmp.abc").read_text() == TUNE
    status = mdl.lab1.abc2wav(basename + ".abc")
    assert type(status) is int and status == 0  # the 2020/21 exit status of success
    assert (tmp_path / "tmp.wav").is_file()
    assert isinstance(mdl.lab1.play_wav(basename + ".wav"), Audio)
    path = mdl.lab1.abc_file_to_wav("tmp.abc", "other.wav")
    assert isinstance(path, pathlib.Path) and path.is_file()
    pathlib.Path("bad.abc").write_text("no tune here")
    with pytest.raises(mdl.lab1.InvalidSongError, match="no tune"):
        mdl.lab1.abc2wav("bad.abc")  # where 2020/21 returned a non-zero status


def _get_batch(vectorized_songs, seq_length, batch_size):
    """A correct batch function, written as the 2021 notebook's TODO asks."""
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    x = np.reshape([vectorized_songs[i : i + seq_length] for i in idx], [batch_size, seq_length])
    y = np.reshape([vectorized_songs[i + 1 : i + seq_length + 1] for i in idx], [batch_size, seq_length])
    return x, y


@pytest.mark.parametrize("name", ["test_batch_func_types", "test_batch_func_shapes", "test_batch_func_next_step"])
def test_batch_tests_return_true(name, capsys):
    vectorized = np.arange(200, dtype=np.int64) % 37
    args = (vectorized, 10, 2)  # the 2021 notebook: (vectorized_songs, 10, 2)
    assert getattr(mdl.lab1, name)(_get_batch, args) is True


def test_custom_dense_layer_output_returns_true_for_a_sigmoid_output(capsys):
    import tensorflow as tf

    y = tf.math.sigmoid(tf.constant([[0.3, -0.2, 1.1]]))
    assert mdl.lab1.test_custom_dense_layer_output(y) is True
    with pytest.raises(AssertionError):
        mdl.lab1.test_custom_dense_layer_output(tf.constant([[-1.0, 2.0, 0.5]]))


# ------------------------------------------------------------------------------------ lab 2

N_FACES, N_OTHER = 40, 30


@pytest.fixture(scope="module")
def course_file(tmp_path_factory):
    """A file in the course's train_face.h5 layout: BGR uint8 images, labels (N, 1), no attributes."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(N_FACES + N_OTHER, 64, 64, 3), dtype=np.uint8)
    labels = np.r_[np.ones(N_FACES), np.zeros(N_OTHER)].astype(np.float32).reshape(-1, 1)
    order = rng.permutation(len(labels))
    rgb, labels = rgb[order], labels[order]
    path = tmp_path_factory.mktemp("course") / "train_face.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=rgb[..., ::-1])
        f.create_dataset("labels", data=labels)
    return path, rgb, labels


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    data = faces.make_synthetic_faces(n_train_faces=60, n_train_nonfaces=40, n_test_per_group=7, darker_fraction=0.2, seed=5, progress=False)
    return faces.write_h5(tmp_path_factory.mktemp("synthetic") / "faces.h5", data, channel_order="rgb"), data


def test_loader_size_and_batches_as_in_2021(course_file, capsys):
    path, rgb, labels = course_file
    loader = mdl.lab2.TrainingDatasetLoader(path)
    assert loader.get_train_size() == N_FACES + N_OTHER
    x, y = loader.get_batch(10)
    assert x.shape == (10, 64, 64, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.shape == (10, 1) and set(np.unique(y)) == {0.0, 1.0}
    x, y, inds = loader.get_batch(8, only_faces=True, return_inds=True)
    assert (y == 1).all() and np.array_equal(x, rgb[inds] / np.float32(255))  # RGB, as get_batch flipped
    p = np.full(len(loader.pos_train_inds), 1 / len(loader.pos_train_inds))
    x, y = loader.get_batch(6, p_pos=p)
    assert x.shape == (6, 64, 64, 3)


def test_get_all_train_faces_returns_the_raw_uint8_bgr_images(course_file, capsys):
    path, rgb, labels = course_file
    loader = mdl.lab2.TrainingDatasetLoader(path)
    all_faces = loader.get_all_train_faces()
    assert all_faces.dtype == np.uint8 and all_faces.shape == (N_FACES, 64, 64, 3)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(all_faces, f["images"][:][labels[:, 0] == 1])  # the file's bytes
    np.testing.assert_array_equal(all_faces[..., ::-1], rgb[labels[:, 0] == 1])  # i.e. BGR
    # the 2021 notebook divides by 255 itself (get_latent_mu): that lands in [0, 1]
    scaled = all_faces / 255.0
    assert 0 <= scaled.min() and scaled.max() <= 1 and scaled.max() > 0.9
    floats = loader.get_all_train_faces(as_float=True)
    assert floats.dtype == np.float32 and np.array_equal(floats, rgb[labels[:, 0] == 1] / np.float32(255))


def test_get_all_train_faces_is_bgr_for_a_synthetic_rgb_file_too(synthetic_file, capsys):
    path, data = synthetic_file
    loader = mdl.lab2.TrainingDatasetLoader(path)
    raw = loader.get_all_train_faces()
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw, data["train_images"][loader.pos_train_inds][..., ::-1])


def test_train_steps_per_epoch_takes_factor_with_its_old_meaning(course_file, capsys):
    loader = mdl.lab2.TrainingDatasetLoader(course_file[0])
    n = loader.get_train_size()
    assert loader.get_train_steps_per_epoch(2) == n // 10 // 2  # factor=10 by default, as in 2020/21
    assert loader.get_train_steps_per_epoch(2, factor=5) == n // 5 // 2
    assert loader.get_train_steps_per_epoch(2, 1) == n // 2  # factor may be positional, as it was


def test_n_most_prob_faces_old_selection_with_step(course_file, capsys):
    path, rgb, labels = course_file
    loader = mdl.lab2.TrainingDatasetLoader(path)
    prob = np.arange(N_FACES, dtype=np.float64)[::-1]
    prob /= prob.sum()  # face k has rank k
    faces_rgb = rgb[labels[:, 0] == 1] / np.float32(255)
    np.testing.assert_array_equal(loader.get_n_most_prob_faces(prob, 3), faces_rgb[[0, 1, 2]])
    np.testing.assert_array_equal(loader.get_n_most_prob_faces(prob, 3, step=10), faces_rgb[[0, 10, 20]])


def test_get_test_faces_positions_names_and_format(synthetic_file, monkeypatch, capsys):
    path, data = synthetic_file
    monkeypatch.setattr(faces, "synthetic_faces_path", lambda *a, **k: path)
    test_faces = mdl.lab2.get_test_faces()  # the 2021 call: no arguments
    notice = capsys.readouterr().out
    assert isinstance(test_faces, tuple) and len(test_faces) == 4
    for group in test_faces:
        group = np.asarray(group)
        assert group.shape == (5, 64, 64, 3) and group.dtype == np.float64
        assert 0 <= group.min() and group.max() <= 1
    # positions line up with the 2020/21 labels under the documented stand-in (hair length for
    # female/male), the names say what the groups really are, and the call prints the mapping
    assert test_faces.names == ("lighter, long hair", "lighter, short hair", "darker, long hair", "darker, short hair")
    for old, name in zip(("Light Female", "Light Male", "Dark Female", "Dark Male"), test_faces.names):
        assert f"{name} (2020/21: {old})" in notice
    images, _, groups = faces.load_test_set(path)
    for name, group in test_faces.items():
        np.testing.assert_array_equal(group, images[groups == faces.GROUPS.index(name)][:5])
        assert test_faces[name] is group
    # the 2021 notebook's uses: a strip per group, and the classifier on float32 copies
    assert np.hstack(test_faces[0]).shape == (64, 5 * 64, 3)
    assert np.array(test_faces[3], dtype=np.float32).shape == (5, 64, 64, 3)
    everything = mdl.lab2.get_test_faces(path, n_per_group=None, verbose=False)
    assert [len(g) for g in everything] == [7, 7, 7, 7]


def test_plot_predictions_draw_as_the_2021_notebook_calls_them():
    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28, 1)).astype(np.float32)
    predictions = rng.dirichlet(np.ones(10), size=3)
    labels = np.array([4, 1, 7])
    fig = plt.figure()
    plt.subplot(1, 2, 1)
    mdl.lab2.plot_image_prediction(1, predictions, labels, images)
    plt.subplot(1, 2, 2)
    mdl.lab2.plot_value_prediction(1, predictions, labels)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1 and len(fig.axes[1].patches) == 10
    plt.close(fig)


# ------------------------------------------------------------------------------------ util


def test_loss_history_smooths_as_before():
    history = mdl.util.LossHistory(smoothing_factor=0.95)
    for value in (1.0, 0.0, 0.0):
        history.append(value)
    assert history.get() == pytest.approx([1.0, 0.95, 0.9025])
    raw = mdl.util.LossHistory()
    raw.append(np.array([2.0, 4.0]))  # a batch of losses is averaged
    assert raw.get() == [3.0]


def test_periodic_plotter_accepts_the_2021_arguments():
    plotter = mdl.util.PeriodicPlotter(sec=2, xlabel="Iterations", ylabel="Loss", scale="semilogy")
    for step in range(3):
        plotter.plot([1.0 / (step + 1)])
    plotter = mdl.util.PeriodicPlotter(sec=1, scale="semilogy")
    plotter.plot([1.0, 0.5])


def test_plot_sample_takes_x_y_vae():
    x = np.random.default_rng(0).random((4, 64, 64, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0])

    def vae(batch):  # a DB-VAE call returns (y_logit, z_mean, z_logvar, reconstruction)
        return np.zeros((len(batch), 1)), None, None, batch * 0.5

    fig = mdl.util.plot_sample(x, y, vae)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), x[1] * 0.5)
    plt.close(fig)
