"""Every lab notebook of the checkout: solutions run in the smoke profile, student copies stop at
TODO 1, and the committed student copies are exactly what `build` generates."""

import pathlib

import pytest

from mdl_tools import notebooks

ROOT = notebooks.find_root(__file__)
SOLUTIONS = [p.relative_to(ROOT).as_posix() for p in notebooks.solution_notebooks(ROOT)]
STUDENTS = [notebooks.student_path(ROOT / p).relative_to(ROOT).as_posix() for p in SOLUTIONS]


def test_checkout_notebooks_are_clean_and_in_sync():
    assert notebooks.check(ROOT) == []


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_solution_runs_in_smoke_profile(relpath, smoke_run):
    result = smoke_run(relpath)
    assert result.status == "ok", f"{relpath} failed in the smoke profile:\n{result.error}"
    assert result.headline, f"{relpath}: the last code cell printed no headline result"
    assert result.result, f"{relpath}: the last code cell recorded no result (mdl.util.report_result)"


@pytest.mark.parametrize("relpath", STUDENTS)
def test_student_copy_stops_at_todo_1(relpath, smoke_run):
    result = smoke_run(relpath)
    assert result.status == "failed", f"{relpath} ran to the end although its TODOs are stubs"
    assert result.error.startswith("NotImplementedError: TODO 1:"), result.error


def test_rl_smoke_run_embeds_a_playable_mp4(smoke_run, tmp_path):
    import base64
    import re

    import imageio_ffmpeg
    import nbformat

    result = smoke_run("lab3/solutions/RL_Solution.ipynb")
    assert result.status == "ok", result.error
    executed = nbformat.read(result.output, as_version=4)
    html = "".join(
        output.get("data", {}).get("text/html", "")
        for cell in executed.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    videos = re.findall(r'<video[^>]*>\s*<source src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', html)
    assert videos, "the executed RL notebook shows no embedded mp4 video"
    clip = tmp_path / "agent.mp4"
    clip.write_bytes(base64.b64decode(videos[0]))
    frame_count, seconds = imageio_ffmpeg.count_frames_and_secs(str(clip))  # ffmpeg decodes it all
    assert frame_count >= 2 and seconds > 0
