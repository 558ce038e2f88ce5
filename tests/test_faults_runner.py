"""`mitdeeplearning run` and `check` under faults: Ctrl-C, unreadable notebooks, foreign paths, a
second run into the same folder. Works on copies of the demo course in tests/fixtures/demo."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from mdl_tools import notebooks, runner

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "demo"
SOLUTION = "lab0/solutions/Demo_Solution.ipynb"


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    notebooks.build(root=root, log=lambda *a, **k: None, normalize=True)
    return root


def cli(root, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mdl_tools", *args], cwd=root, capture_output=True,
                          text=True, timeout=timeout)


def notebook(*sources, profiles=None):
    cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"], "mdl": {"profiles": profiles or {}}})]
    cells += [nbformat.v4.new_code_cell(src) for src in sources]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


def add(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return rel


def test_bad_notebooks_are_named_and_the_others_still_run(course):
    bad_json = add(course, "lab0/Broken.ipynb", '{"cells": [')
    bad_schema = add(course, "lab0/Schema.ipynb", '{"cells": 5, "nbformat": 4, "nbformat_minor": 4, "metadata": {}}')
    no_profile = add(course, "lab0/NoFull.ipynb", notebook("print('hi')", profiles={"smoke": {"x": 2}}))
    result = cli(course, "run", bad_json, SOLUTION, bad_schema, no_profile, "--profile", "full")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads((course / "runs" / "full" / "summary.json").read_text())
    by_name = {r["notebook"]: r for r in summary["results"]}
    assert summary["state"] == "complete" and len(by_name) == 4
    assert by_name[SOLUTION]["status"] == "ok"
    assert by_name[SOLUTION]["headline"] == "HEADLINE hello from the full profile, power(3) = 27"
    assert "lab0/Broken.ipynb: not a valid Jupyter notebook (NotJSONError" in by_name[bad_json]["error"]
    assert "lab0/Schema.ipynb: not a valid Jupyter notebook" in by_name[bad_schema]["error"]
    assert "TypeError" not in by_name[bad_schema]["error"].split("(")[0]
    assert "lab0/NoFull.ipynb: no profile 'full'" in by_name[no_profile]["error"]
    for rel in (bad_json, bad_schema, no_profile):
        assert f"{rel} (profile full) … FAILED" in result.stdout
        assert f"| {rel} | failed |" in (course / "runs" / "full" / "summary.md").read_text()


def test_check_lists_every_problem_in_every_notebook(course):
    add(course, "lab0/solutions/Broken_Solution.ipynb", "not json at all")
    add(course, "lab0/solutions/Schema_Solution.ipynb", '["a", "list"]')
    student = course / "lab0" / "Demo.ipynb"
    student.write_text(student.read_text().replace("Demo lab", "Demo lab, edited by hand"))
    problems = notebooks.check(course)
    text = "\n".join(problems)
    assert "lab0/solutions/Broken_Solution.ipynb: not a valid Jupyter notebook" in text
    assert "lab0/solutions/Schema_Solution.ipynb: not a valid Jupyter notebook" in text
    assert "lab0/Demo.ipynb: differs from what build generates" in text
    result = cli(course, "check")
    assert result.returncode == 1 and f"{len(problems)} problem(s)" in result.stdout


def test_notebook_outside_the_checkout_is_a_clear_error(course, tmp_path):
    outside = tmp_path / "elsewhere" / "Mine.ipynb"
    outside.parent.mkdir()
    shutil.copy(course / SOLUTION, outside)
    result = cli(course, "run", str(outside), SOLUTION, "--profile", "smoke")
    assert result.returncode == 1
    assert "relative_to" not in result.stdout + result.stderr
    assert f"{outside} is outside the checkout {course.resolve()}" in result.stdout
    summary = json.loads((course / "runs" / "smoke" / "summary.json").read_text())
    assert [r["status"] for r in summary["results"]] == ["failed", "ok"]


def test_a_second_run_into_the_same_folder_is_refused(course):
    out = course / "runs" / "shared"
    out.mkdir(parents=True)
    with runner._exclusive(out):
        refused = cli(course, "run", SOLUTION, "--profile", "smoke", "--out", str(out))
    assert refused.returncode == 2
    assert f"another run (process {os.getpid()}) is writing into {out}" in refused.stderr
    assert not (out / "summary.md").exists()
    assert cli(course, "run", SOLUTION, "--profile", "smoke", "--out", str(out)).returncode == 0


def test_ctrl_c_writes_an_interrupted_summary_and_marks_the_executed_copy(course):
    slow = add(course, "lab0/Slow.ipynb", notebook(
        "import pathlib, time\npathlib.Path('started').write_text('yes')\ntime.sleep(120)",
        "print('never reached')", profiles={"smoke": {}}))
    out = course / "runs" / "smoke"
    out.mkdir(parents=True)
    (out / "summary.md").write_text("# Results (smoke profile)\n\n| lab0/Slow.ipynb | ok | 1 s | an older run |\n")
    process = subprocess.Popen([sys.executable, "-m", "mdl_tools", "run", slow, SOLUTION, "--profile", "smoke"],
                               cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        marker = out / "lab0" / "started"
        for _ in range(1200):  # the kernel starts, then the slow cell writes its marker
            if marker.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), process.communicate(timeout=60)
        running = (out / "summary.md").read_text()
        assert "**Running**" in running and "an older run" not in running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "Interrupted" in stderr
    summary_md = (out / "summary.md").read_text()
    assert "**Interrupted** (Ctrl-C)" in summary_md and "an older run" not in summary_md
    summary = json.loads((out / "summary.json").read_text())
    assert summary["state"] == "interrupted"
    assert [(r["notebook"], r["status"]) for r in summary["results"]] == [(slow, "interrupted"), (SOLUTION, "not run")]
    assert re.search(r"after \d+ s in cell In \[\d+\] \(`import pathlib, time`\); the cells after it did not run", summary["results"][0]["error"])
    executed = nbformat.read(out / slow, as_version=4)
    banner = executed.cells[0]
    assert runner.INTERRUPTED_TAG in banner.metadata["tags"] and "Interrupted (Ctrl-C)" in banner.source
    code = [c for c in executed.cells if c.cell_type == "code"]
    stopped = next(c for c in code if "time.sleep" in c.source)
    assert stopped.metadata.papermill.status == "failed"
    assert any(o.get("ename") == "KeyboardInterrupt" for o in stopped.outputs)
    assert code[-1].metadata.papermill.status == "pending" and not code[-1].outputs


def test_summary_keeps_other_notebooks_and_says_what_ran(course):
    shutil.copy(course / SOLUTION, course / "lab0" / "solutions" / "Second_Solution.ipynb")
    every = cli(course, "run", "--all", "--profile", "smoke")
    assert every.returncode == 0, every.stdout + every.stderr
    assert "without encryption" not in every.stdout + every.stderr  # the kernel's log, not the progress lines
    log = course / "runs" / "smoke" / "lab0" / "solutions" / "Demo_Solution.kernel.log"
    assert "Kernel is running over TCP without encryption" in log.read_text()
    one = cli(course, "run", SOLUTION, "--profile", "smoke")
    assert one.returncode == 0, one.stdout + one.stderr
    assert "Keeping the results of 1 other notebook(s) from earlier runs" in one.stdout
    summary = json.loads((course / "runs" / "smoke" / "summary.json").read_text())
    assert [r["notebook"] for r in summary["results"]] == ["lab0/solutions/Second_Solution.ipynb", SOLUTION]
    first, again = summary["results"]
    assert first["date"] and again["date"] and first["date"] <= again["date"]
    assert again["overrides"] == {"greeting": "smoke"} and again["output"] == SOLUTION  # relative to the run folder
    machine = summary["machine"]
    assert machine["commit"] == "not a git checkout" and machine["package"] == "9.9.9"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", machine["tensorflow"]) and re.fullmatch(r"\d+\.\d+\.\d+.*", machine["keras"])
    md = (course / "runs" / "smoke" / "summary.md").read_text()
    assert "package 9.9.9 · tensorflow " in md and f"| {SOLUTION} | ok |" in md and "greeting='smoke'" in md


def test_a_failure_names_the_cell_as_check_does(course, tmp_path):
    result = runner.run_notebook(course / "lab0" / "Demo.ipynb", "smoke", tmp_path, course)
    assert result.status == "failed"
    # the power cell is the 7th of the student copy (check numbers it so too); papermill's own index,
    # in the executed copy with its injected-parameters cell, would say 7 (0-based) or 8
    assert "(in cell 7 of the notebook, counting from 1, markdown included; In [" in result.error.splitlines()[0]
    student = nbformat.read(course / "lab0" / "Demo.ipynb", as_version=4)
    assert student.cells[6].source.startswith("def power(x):")
