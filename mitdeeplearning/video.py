"""Write, count and embed mp4 videos of agents, with no display server.

Frames come from ``env.render()`` with ``render_mode="rgb_array"`` (or from a rollout's
observations); they are piped to the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships,
encoded as H.264 in an mp4 that browsers play, and shown in a notebook as an HTML5 ``<video>``
element whose source is the file itself, base64-encoded, so the executed notebook carries the
video. The ffmpeg process ends when the file is closed; nothing is left running.
"""

import base64
import os
from pathlib import Path

import numpy as np

from . import rl

__all__ = ["write_mp4", "count_frames", "play_video", "save_video_of_agent", "save_video_of_observations"]


def _even(frame):
    # H.264 in yuv420p (the pixel format every browser plays) needs even width and height.
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def _ffmpeg_command(exe, size, fps, path):
    """ffmpeg reading raw RGB frames on stdin and writing an H.264 mp4 that browsers play."""
    return [
        exe, "-y", "-nostdin", "-v", "error",
        "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{size[0]}x{size[1]}", "-pix_fmt", "rgb24",
        "-r", str(fps), "-i", "-", "-an",
        "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", "25",
        # moov atom first, so browsers start playing before the whole file has arrived
        "-movflags", "+faststart", "-f", "mp4", str(path),
    ]


def write_mp4(frames, filename, fps=30):
    """Encode an iterable of (H, W, 3) uint8 RGB frames as an H.264 mp4; return the Path.

    Raises ValueError when there are no frames or a frame has the wrong shape or dtype, and
    OSError quoting ffmpeg when it cannot write the file (a full disk, a read-only folder). The
    video is written to a temporary name beside ``filename`` and moved in place once ffmpeg has
    finished, so a failure or Ctrl-C never leaves a partial file; ffmpeg never outlives the call.
    """
    import subprocess
    import tempfile

    import imageio_ffmpeg

    filename = Path(filename)
    filename.parent.mkdir(parents=True, exist_ok=True)
    tmp = filename.with_name(f".{filename.name}.tmp{os.getpid()}.mp4")
    log = tempfile.TemporaryFile()  # ffmpeg's error text, quoted if it fails
    process = None
    count = 0
    size = None

    def ffmpeg_failed(cause):
        process.wait()
        log.seek(0)
        said = log.read().decode("utf-8", errors="replace").strip()
        said = said.splitlines()[-3:] if said else []
        return OSError(
            f"ffmpeg could not write the video {filename} (exit status {process.returncode}"
            + (f": {' / '.join(said)}" if said else f"; {cause}")
            + f"). Check that {filename.parent} is writable and has free space; no partial file was kept."
        )

    try:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.ndim == 2:
                frame = np.repeat(frame[..., None], 3, axis=-1)
            if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                raise ValueError(
                    f"video frames must be (H, W, 3) uint8 RGB arrays, got shape {frame.shape} dtype "
                    f"{frame.dtype}; use env.render() with render_mode='rgb_array'"
                )
            frame = _even(frame)
            if process is None:
                size = (frame.shape[1], frame.shape[0])
                command = _ffmpeg_command(imageio_ffmpeg.get_ffmpeg_exe(), size, fps, tmp)
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
            elif (frame.shape[1], frame.shape[0]) != size:
                raise ValueError(f"frame {count} has size {frame.shape[1]}x{frame.shape[0]}, the first had {size}")
            try:
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
            except (BrokenPipeError, OSError) as exc:  # ffmpeg exited: it says why in its log
                raise ffmpeg_failed(exc) from exc
            count += 1
        if count == 0:
            raise ValueError(f"no frames to write to {filename}: the episode or the sequence of observations was empty")
        try:
            process.stdin.close()
        except (BrokenPipeError, OSError) as exc:
            raise ffmpeg_failed(exc) from exc
        if process.wait() != 0:
            raise ffmpeg_failed("no message")
        os.replace(tmp, filename)
    finally:
        if process is not None and process.poll() is None:  # an error or Ctrl-C while encoding
            process.kill()
            process.wait()
        if process is not None and process.stdin is not None and not process.stdin.closed:
            try:
                process.stdin.close()
            except OSError:  # the pipe is already broken; ffmpeg is gone either way
                pass
        log.close()
        tmp.unlink(missing_ok=True)
    return filename


def count_frames(filename):
    """Number of video frames in a video file (decoded by ffmpeg, so a broken file raises)."""
    import imageio_ffmpeg

    nframes, _ = imageio_ffmpeg.count_frames_and_secs(str(filename))
    return nframes


def play_video(filename, width=480):
    """Show an mp4 in a notebook: an HTML5 video element with the file embedded as base64.

    ``width`` in pixels; None shows the video at its own size.
    """
    from IPython.display import HTML

    path = Path(filename)
    if not path.is_file():
        raise FileNotFoundError(f"no video at {path}; create it with save_video_of_agent")
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    size = "" if width is None else f' width="{int(width)}"'
    return HTML(
        f"<video{size} controls loop playsinline>"
        f'<source src="data:video/mp4;base64,{encoded}" type="video/mp4">'
        f"Your browser does not play mp4 video.</video>"
    )


def save_video_of_agent(model, env_name, filename, observe=None, num_frames=1000, seed=0, fps=30):
    """Let ``model`` play one episode of ``env_name`` (at most ``num_frames`` frames), film it, return the file name.

    The policy samples an action from the model's logits at every step. The model sees
    ``observe(previous observation, observation)``: for Pong the frame difference it was trained
    on (e.g. ``frame_change``, or your own ``frame_difference``); None gives it the observation as it
    comes (Cart-Pole's 4 numbers). The episode starts from ``reset(seed=seed)``; the frames are
    what ``env.render()`` draws, encoded by ``write_mp4`` into ``filename`` at ``fps``.
    """
    env = rl.make_env(env_name, render_mode="rgb_array")
    policy = model if isinstance(model, rl.CompiledPolicy) else rl.CompiledPolicy(model)
    observe = observe or (lambda previous, observation: observation)
    try:
        observation, _ = env.reset(seed=seed)

        def frames():
            nonlocal observation
            previous = observation
            for _ in range(int(num_frames)):
                yield env.render()
                x = np.asarray(observe(previous, observation), dtype=np.float32)
                action = rl._sample_actions(policy, x, single=True)
                previous = observation
                observation, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    yield env.render()
                    return

        write_mp4(frames(), filename, fps=fps)
    finally:
        env.close()
    return str(filename)


def save_video_of_observations(observations, filename, size=(512, 512), fps=30):
    """Film a sequence of Pong observations (frame differences, e.g. a ``Trajectory``'s) and return the file name.

    Values in [-1, 1] become grey levels (0 -> mid grey, +1 -> white, -1 -> black); images are
    scaled to ``size`` (width, height) with nearest-neighbour so pixels stay sharp.
    """
    import cv2

    if len(observations) == 0:
        raise ValueError("there are no observations to film; collect a rollout first")

    def frames():
        for obs in observations:
            img = np.asarray(obs, dtype=np.float32)
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            if img.ndim != 2:
                raise ValueError(f"observations of shape {np.shape(obs)} are not images; this films Pong frame differences")
            grey = np.clip((img + 1.0) * 127.5, 0, 255).astype(np.uint8)
            grey = cv2.resize(grey, tuple(int(s) for s in size), interpolation=cv2.INTER_NEAREST)
            yield np.repeat(grey[..., None], 3, axis=-1)

    write_mp4(frames(), filename, fps=fps)
    return str(filename)
