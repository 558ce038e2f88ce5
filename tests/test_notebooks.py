"""Every lab notebook of the checkout: solutions run in the smoke profile, student copies stop at
TODO 1, and the committed student copies are exactly what `build` generates."""

import pathlib

import pytest

from mitdeeplearning import notebooks

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


@pytest.mark.parametrize("relpath", STUDENTS)
def test_student_copy_stops_at_todo_1(relpath, smoke_run):
    result = smoke_run(relpath)
    assert result.status == "failed", f"{relpath} ran to the end although its TODOs are stubs"
    assert result.error.startswith("NotImplementedError: TODO 1:"), result.error
