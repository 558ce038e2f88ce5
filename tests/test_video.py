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
    with pytest.raises(FileNotFoundError, match="save_video_of_agent"):
        mdl.lab3.play_video(tmp_path / "missing.mp4")


def test_save_video_of_agent_cartpole(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = mdl.lab3.save_video_of_agent(model, "CartPole-v1", tmp_path / "cp.mp4", num_frames=40)
    n = video.count_frames(path)
    # one frame per step plus the final frame, or num_frames when the pole stays up that long
    assert 2 <= n <= 41
    assert child_pids() == []


def test_save_video_of_agent_pong_sees_what_observe_gives_it(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((80, 80, 1)), keras.layers.Flatten(), keras.layers.Dense(6)])
    seen = []

    def observe(previous, frame):
        seen.append((previous.shape, frame.shape))
        return rl.frame_change(previous, frame)

    path = mdl.lab3.save_video_of_agent(model, "ALE/Pong-v5", tmp_path / "pong.mp4", observe=observe, num_frames=30)
    assert video.count_frames(path) == 30  # no Pong episode ends within 30 steps
    assert len(seen) == 30 and set(seen) == {((210, 160, 3), (210, 160, 3))}
    assert child_pids() == []


def test_save_video_of_observations_and_the_2021_memory_form(tmp_path):
    rng = np.random.default_rng(0)
    observations = [rng.integers(-1, 2, size=(80, 80, 1)).astype(np.float32) for _ in range(17)]
    path = mdl.lab3.save_video_of_observations(observations, str(tmp_path / "obs.mp4"), size=(160, 160))
    assert video.count_frames(path) == 17
    memory = mdl.lab3.Memory()
    for observation in observations[:5]:
        memory.add_to_memory(observation, 0, 0.0)
    assert video.count_frames(mdl.lab3.save_video_of_memory(memory, str(tmp_path / "mem.mp4"), size=(160, 160))) == 5
    with pytest.raises(ValueError, match="no observations"):
        mdl.lab3.save_video_of_memory(mdl.lab3.Memory(), str(tmp_path / "none.mp4"))
    with pytest.raises(ValueError, match="not images"):
        mdl.lab3.save_video_of_observations([np.zeros(4)], str(tmp_path / "cartpole.mp4"))
