"""mp4 files are valid, have the expected number of frames, embed as HTML5 video, leave no process."""

import base64

import numpy as np
import pytest

import mitdeeplearning as mdl
from mitdeeplearning import rl, video

from test_rl import child_pids


def test_write_mp4_frame_count_and_odd_sizes(tmp_path):
    frames = [np.full((45, 61, 3), 10 * k, np.uint8) for k in range(12)]  # odd sizes get padded
    path = video.write_mp4(frames, tmp_path / "clip.mp4", fps=10)
    assert path.read_bytes()[4:8] == b"ftyp"
    assert video.count_frames(path) == 12
    assert child_pids() == []


def test_write_mp4_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        video.write_mp4([], tmp_path / "empty.mp4")
    with pytest.raises(ValueError, match="uint8"):
        video.write_mp4([np.zeros((8, 8, 3), np.float32)], tmp_path / "float.mp4")
    assert child_pids() == []


def test_play_video_embeds_base64_html5(tmp_path):
    path = video.write_mp4([np.zeros((16, 16, 3), np.uint8)] * 3, tmp_path / "v.mp4")
    html = mdl.lab3.play_video(path).data
    assert html.startswith("<video") and 'type="video/mp4"' in html
    payload = html.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(payload) == path.read_bytes()
    with pytest.raises(FileNotFoundError, match="save_video_of_model"):
        mdl.lab3.play_video(tmp_path / "missing.mp4")


def test_save_video_of_model_cartpole(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = mdl.lab3.save_video_of_model(model, "CartPole-v1", filename=str(tmp_path / "cp.mp4"), num_frames=40)
    n = video.count_frames(path)
    # one frame per step plus the final frame, or num_frames when the pole stays up that long
    assert 2 <= n <= 41
    assert child_pids() == []


def test_save_video_of_model_pong_frame_count(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    path = mdl.lab3.save_video_of_model(model, "ALE/Pong-v5", filename=str(tmp_path / "pong.mp4"), num_frames=30)
    assert video.count_frames(path) == 30  # no Pong episode ends within 30 steps
    assert child_pids() == []


def test_save_video_of_memory(tmp_path):
    memory = rl.Memory()
    rng = np.random.default_rng(0)
    for _ in range(17):
        memory.add_to_memory(rng.integers(-1, 2, size=(80, 80, 1)).astype(np.float32), 0, 0.0)
    path = mdl.lab3.save_video_of_memory(memory, str(tmp_path / "mem.mp4"), size=(160, 160))
    assert video.count_frames(path) == 17
    with pytest.raises(ValueError, match="no observations"):
        mdl.lab3.save_video_of_memory(rl.Memory(), str(tmp_path / "none.mp4"))
