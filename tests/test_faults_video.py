"""write_mp4 when ffmpeg fails or the frames go wrong: a clear error, no partial file, no process."""

import stat

import numpy as np
import pytest

from mitdeeplearning import video

from test_rl import child_pids

FAILING_FFMPEG = """#!/bin/sh
# stands in for ffmpeg on a full disk: writes part of the output, complains, exits
for last; do out="$last"; done
printf 'partial' > "$out"
head -c 20000 > /dev/null
echo "[out#0/mp4] Error writing trailer: No space left on device" >&2
exit 1
"""


def frames(n, size=(64, 64)):
    return [np.full(size + (3,), (4 * k) % 256, np.uint8) for k in range(n)]


def test_ffmpeg_failure_quotes_ffmpeg_and_leaves_no_file(tmp_path, monkeypatch):
    import imageio_ffmpeg

    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(FAILING_FFMPEG)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    out = tmp_path / "videos"
    with pytest.raises(OSError) as info:
        video.write_mp4(frames(200), out / "clip.mp4")
    message = str(info.value)
    assert "ffmpeg could not write the video" in message and str(out / "clip.mp4") in message
    assert "No space left on device" in message and "exit status 1" in message
    assert "Broken pipe" not in message
    assert list(out.iterdir()) == []  # neither clip.mp4 nor its temporary file
    assert child_pids() == []


def test_bad_frame_midway_leaves_no_partial_video(tmp_path):
    bad = frames(5) + [np.zeros((64, 64, 3), np.float32)]
    with pytest.raises(ValueError, match="uint8"):
        video.write_mp4(bad, tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []
    assert child_pids() == []


def test_interrupt_while_encoding_stops_ffmpeg_and_leaves_nothing(tmp_path):
    def interrupted():
        yield from frames(10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        video.write_mp4(interrupted(), tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []
    assert child_pids() == []


def test_existing_video_survives_a_failed_rewrite(tmp_path):
    path = video.write_mp4(frames(4), tmp_path / "clip.mp4")
    before = path.read_bytes()
    with pytest.raises(ValueError):
        video.write_mp4(frames(3) + [np.zeros((8, 8), np.int64)], path)
    assert path.read_bytes() == before and video.count_frames(path) == 4
