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


def test_music_smoke_run_generates_a_playable_tune(smoke_run):
    """The smoke profile's tiny model already writes finished tunes that play: CI hears the
    generated-music path (player and piano roll), not only the training loop."""
    result = smoke_run("lab1/solutions/Part2_Music_Generation_Solution.ipynb")
    assert result.status == "ok", result.error
    assert result.result["playable"] >= 1, result.result


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


# What a cell may not leave behind: an object's repr, NumPy's scalar reprs in printed text.
_STRAY_REPR = __import__("re").compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>|\bnp\.(str_|int\d+|float\d+|bool_?)\(")


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_solution_output_is_tidy(relpath, smoke_run):
    """No stray output: setup cells print to stdout only, no cell echoes an object or True, printed
    values are formatted, and no cell leaves an empty stderr strip."""
    import nbformat

    result = smoke_run(relpath)
    assert result.status == "ok", result.error
    nb = nbformat.read(result.output, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    setup_end = next(i for i in code if "print_environment" in nb.cells[i].source)
    problems = []
    for i in code:
        text_bar = any("%|" in "".join(o.get("text", "")) for o in nb.cells[i].get("outputs", []))
        for out in nb.cells[i].get("outputs", []):
            text = out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            where = f"cell {i} ({nb.cells[i].source.splitlines()[0][:60]!r})"
            if out.output_type == "stream" and out.name == "stderr":
                if i <= setup_end:
                    problems.append(f"{where}: setup cell writes to stderr: {text[:300]!r}")
                elif not text.strip() and not text_bar:  # a text progress bar ends with its own newline
                    problems.append(f"{where}: an empty stderr output")
            if out.output_type == "execute_result" and text.strip() in ("True", "False", "None"):
                problems.append(f"{where}: echoes {text.strip()}")
            if _STRAY_REPR.search(text):
                problems.append(f"{where}: unformatted value {_STRAY_REPR.search(text).group(0)!r} in {text[:200]!r}")
    assert not problems, f"{relpath}:\n  " + "\n  ".join(problems)
