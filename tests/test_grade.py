"""mitdeeplearning grade: a synthetic class graded to exactly the expected table, hostile submissions
held to their honest score, and the Gradescope bundle's run_autograder on one submission.

The class is generated from lab 1 Part 1 (tests/grading/classroom.py); grading it runs one kernel
per submission (and one more per lost kernel), two at a time: about two minutes on 2 cores.
"""

import csv
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from mdl_tools import grade, notebooks
from mdl_tools.grading import sandbox, submission
from tests.grading import classroom

ROOT = notebooks.find_root(pathlib.Path(__file__).parent)
LIMITS = {"address_space": 4 * 1024**3}  # TensorFlow's kernel peaks at ~2.4 GB; the hostile allocation stops at 4
# The hostile corpus is graded in the strong sandbox, which needs root (namespaces, another user id);
# without root the grader runs with limits only, says so, and these tests cannot hold.
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the grading sandbox needs root: run as root (sudo make test)")
LEVELS = ["limits-only"] + (["strong"] if os.geteuid() == 0 else [])
CELL_TIMEOUT = 20  # the slowest answer cell (300 SGD steps) takes ~2 s alone, more on a busy machine


@pytest.fixture(scope="module")
def template():
    return classroom.template_for(ROOT)


@pytest.fixture(scope="module")
def graded(template, tmp_path_factory):
    base = tmp_path_factory.mktemp("grade")
    subs, out, work = base / "class", base / "out", base / "work"
    work.mkdir()
    expected = classroom.make_class(template, subs, ROOT, out)
    files = grade.collect([subs])
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    grader = grade.Grader(ROOT, [template], out, cell_timeout=CELL_TIMEOUT, submissions=files, limits=LIMITS)
    results, seconds = grade.grade_class(grader, files, workers=2, progress=False, workspace_base=work)
    return {"results": {r["file"]: r for r in results}, "expected": expected, "out": out, "subs": subs,
            "work": work, "before": before, "grader": grader, "seconds": seconds}


@NEEDS_ROOT
def test_the_class_is_graded_to_the_expected_table(graded):
    table = {name: ({t["number"]: t["status"] for t in r["todos"]} if r["status"] == "graded" else None)
             for name, r in graded["results"].items()}
    assert table == graded["expected"]
    for name, r in graded["results"].items():
        passed = sum(t["status"] == "pass" for t in r["todos"])
        assert r["total"] == passed, name  # one point per TODO: lab 1 Part 1 sets no points


@NEEDS_ROOT
def test_failures_carry_the_hint_the_student_would_have_seen(graded):
    todos = {t["number"]: t for t in graded["results"]["Mistakes - Lab 1 (1).ipynb"]["todos"]}
    assert "outer brackets" in todos[1]["message"]
    assert "batch" in todos[2]["message"]
    assert "apply_gradients" in todos[9]["message"]
    runtime = {t["number"]: t for t in graded["results"]["runtime.ipynb"]["todos"]}
    for number in (1, 2, 8):  # hidden (empty and unreadable) or out of sight altogether
        assert "Permission denied" in runtime[number]["message"] or "No such file" in runtime[number]["message"]
    assert "MemoryError" in runtime[3]["message"]
    assert "free space" in runtime[4]["message"]  # numpy's words for a full scratch folder
    assert "time limit" in runtime[6]["message"]
    assert "requested and" in runtime[7]["message"]  # the write stopped at the file-size limit


@NEEDS_ROOT
def test_tampering_is_flagged_and_refused_code_named(graded):
    screened = graded["results"]["screened.ipynb"]
    flags = "\n".join(screened["flags"])
    for number in (1, 4, 5, 7):
        assert f"TODO {number} tampering" in flags
    for number in (2, 3, 6, 9):
        assert f"TODO {number} refused" in flags
    assert not graded["results"]["right.ipynb"]["flags"]
    summary = (graded["out"] / "summary.md").read_text()
    assert "## Flagged submissions" in summary and "screened" in summary


@NEEDS_ROOT
def test_a_printed_tick_counts_for_nothing(graded):
    # the Colab download carries "✔ looks right" outputs under every cell; the mistakes did not
    todos = {t["number"]: t["status"] for t in graded["results"]["Mistakes - Lab 1 (1).ipynb"]["todos"]}
    assert todos[1] == "fail"
    assert all(t["status"] == "pass" for t in graded["results"]["right.ipynb"]["todos"])


@NEEDS_ROOT
def test_megabytes_of_print_are_dropped(graded):
    executed = graded["out"] / "executed" / "runtime.ipynb"
    assert executed.stat().st_size < 2_000_000  # the answer printed 20 MB
    assert "[grader: output over" in executed.read_text()


@NEEDS_ROOT
def test_edits_outside_the_regions_are_reported_not_run(graded):
    result = graded["results"]["Mistakes - Lab 1 (1).ipynb"]
    assert any("my own line" in edit for edit in result["edits"])
    executed = (graded["out"] / "executed" / "Mistakes - Lab 1 (1).ipynb").read_text()
    assert "print('my own line')" not in executed


@NEEDS_ROOT
def test_outputs_table_pages_and_summary(graded):
    rows = list(csv.DictReader(open(graded["out"] / "grades.csv")))
    by_file = {r["file"]: r for r in rows}
    assert by_file["right.ipynb"]["total"] == "9" and by_file["right.ipynb"]["max_points"] == "9"
    assert by_file["partial.ipynb"]["todo_4"] == "1" and by_file["partial.ipynb"]["todo_5"] == "0"
    assert by_file["essay.pdf"]["status"] == "unreadable"
    page = (graded["out"] / "reports" / "Mistakes - Lab 1 (1).html").read_text()
    assert "outer brackets" in page and "TODO 9" in page
    summary = (graded["out"] / "summary.md").read_text()
    assert "| lab1/Part1_TensorFlow.ipynb | 1 |" in summary
    assert "Isolation: **strong**" in summary
    line = grade.count_line(list(graded["results"].values()), graded["seconds"])
    assert line.startswith("graded 5/6 submission(s)") and "1 with full marks" in line


@NEEDS_ROOT
def test_the_grader_and_the_other_submissions_are_left_as_they_were(graded):
    after = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in graded["subs"].iterdir()}
    assert after == graded["before"]
    results = json.loads((graded["out"] / "results.json").read_text())
    assert "all passed" not in json.dumps(results["results"][0])  # the hostile write never landed
    assert list(graded["work"].iterdir()) == []  # every sandbox folder removed
    mounts = pathlib.Path("/proc/mounts").read_text()
    assert "mdl-scratch" not in mounts and "mdl-hidden" not in mounts
    leftover = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True).stdout.split("\n")
    uids = {r["uid"] for r in graded["results"].values()}
    assert len(uids) == 2  # one user id per worker
    assert not [p for p in leftover if p.split() and int(p.split()[0]) in uids]


@NEEDS_ROOT
def test_unscreened_tampering_is_seen_and_undone_and_a_dead_kernel_replaced(template, tmp_path):
    """With the screen off, what the grader's side still holds: a rebound check or a patched
    helper is seen (tampered) and put back, so later TODOs are judged by the real checks; code
    that kills what it can reaches only its own kernel, and the next TODO runs in a fresh one."""
    answers = {**classroom.all_solutions(template), **{n: code for n, (code, _) in classroom.UNSCREENED.items()}}
    path = classroom.write(classroom.fill(template, answers), tmp_path / "unscreened.ipynb")
    grader = grade.Grader(ROOT, [template], tmp_path / "out", cell_timeout=CELL_TIMEOUT, submissions=[path],
                          limits=LIMITS, screen=False)
    results, _ = grade.grade_class(grader, [path], workers=1, progress=False)
    statuses = {t["number"]: t["status"] for t in results[0]["todos"]}
    expected = {t.number: classroom.UNSCREENED.get(t.number, (None, "pass"))[1] for t in template.todos}
    assert statuses == expected
    assert "kernel died" in results[0]["todos"][7]["message"]
    assert "mitdeeplearning.lab1.check_matrix" in results[0]["todos"][0]["message"]
    assert "mitdeeplearning.checks.require" in results[0]["todos"][2]["message"]
    flags = "\n".join(results[0]["flags"])
    assert "TODO 1 tampering" in flags and "TODO 3 tampering" in flags


# --------------------------------------------------------------------------------------------
# Without kernels: reading submissions, screening answers, the sandbox itself
# --------------------------------------------------------------------------------------------


def test_recognises_renamed_colab_and_resaved_copies(template, tmp_path):
    right = classroom.all_solutions(template)
    for name, nb in {"Copy of Part1_TensorFlow (2).ipynb": classroom.fill(template, right, colab=True),
                     "lab1.ipynb": classroom.fill(template, {})}.items():
        path = classroom.write(nb, tmp_path / name)
        read = submission.read_submission(path)
        assert submission.recognise(read, [template]) is template
        answers, edits = submission.extract(read, template)
        assert edits == []
        status = "attempted" if name.startswith("Copy") else "not attempted"
        assert {n: a.status for n, a in answers.items()} == {t.number: status for t in template.todos}


def test_a_notebook_of_another_lab_is_not_taken_for_this_one(template):
    other = classroom.template_for(ROOT, "lab3/RL.ipynb")
    with pytest.raises(submission.SubmissionError, match="not recognised"):
        submission.recognise(other.student, [template])


def test_every_solution_answer_passes_the_screen():
    for solution in notebooks.solution_notebooks(ROOT):
        template = submission.load_template(solution, ROOT)
        for todo in template.todos:
            assert submission.screen(todo.solution_lines).verdict == "ok", (template.name, todo.number)


@pytest.mark.parametrize("code, verdict", [
    ("matrix = tf.constant([[1, 2], [3, 4]])", "ok"),
    ("import numpy as np\nz = np.ones(3)", "ok"),
    ("super().__init__()\nself.dense = keras.layers.Dense(3)", "ok"),
    ("import os", "refused"),
    ("open('/etc/passwd').read()", "refused"),
    ("getattr(tf, 'constant')", "refused"),
    ("sys.modules['mitdeeplearning'] = None", "tamper"),
    ("!curl example.com", "tamper"),  # a shell escape: get_ipython().system(…)
    ("mdl.lab1.check_matrix = print", "tamper"),
    ("np.testing.assert_allclose = lambda *a, **k: None", "tamper"),
    ("tf = None", "tamper"),
    ("x = ().__class__.__bases__[0].__subclasses__()", "tamper"),
    ("np.ctypeslib.ctypes.CDLL(None)", "tamper"),
    ("__mdl_check__ = lambda *a: (lambda *b: None)", "tamper"),
    ("def f(:", "syntax"),
])
def test_the_screen(code, verdict):
    assert submission.screen(code.split("\n")).verdict == verdict


HOSTILE_SCRIPT = r"""
import errno, json, os, socket, sys, time
grader_pid, hidden, out, kept, private = int(sys.argv[1]), *sys.argv[2:6]
seen = {"uid": os.getuid(), "kept": open(kept).read()}
try:
    open(private).read(); seen["private"] = "read"
except OSError as exc:
    seen["private"] = type(exc).__name__
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2); seen["network"] = "reached"
except OSError as exc:
    seen["network"] = type(exc).__name__
try:
    os.kill(grader_pid, 9); seen["kill"] = "sent"
except OSError as exc:
    seen["kill"] = type(exc).__name__
try:
    open(hidden).read(); seen["hidden"] = "read"
except OSError as exc:
    seen["hidden"] = type(exc).__name__
try:
    open(os.path.join(out, "forged.json"), "w").write("{}"); seen["out"] = "written"
except OSError as exc:
    seen["out"] = type(exc).__name__
children = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(60); os._exit(0)
        children += 1
except OSError as exc:
    seen["fork"] = type(exc).__name__
seen["children"] = children
try:
    for i in range(100):  # files under the file-size limit, more of them than the scratch holds
        with open(f"fill{i}.bin", "wb") as fh:
            fh.write(b"x" * 10**7)
    seen["disk"] = "filled"
except OSError as exc:
    seen["disk"] = errno.errorcode[exc.errno]
print(json.dumps(seen), flush=True)
os._exit(0)
"""


def test_the_sandbox_holds_raw_code(tmp_path):
    """What the screen would refuse, run anyway inside the sandbox: it reaches nothing."""
    assert sandbox.isolation() == ("strong" if os.geteuid() == 0 else "limits-only")
    if os.geteuid() != 0:
        return  # the grader says "limits-only" in every report; nothing more to hold here
    assert sandbox.probe_strong() is None
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(tmp_path, 0o711)
    hidden = tmp_path / "secret"
    hidden.mkdir()
    (hidden / "solution.ipynb").write_text("answers")
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    uid, lock = grade.claim_uid()
    checkout = tmp_path / "checkout"  # like the course's: the package is kept, runs/ is not
    (checkout / "package").mkdir(parents=True)
    (checkout / "package" / "module.py").write_text("kept")
    (checkout / "runs").mkdir()
    (checkout / "runs" / "executed_solution.ipynb").write_text("answers")
    spec = sandbox.prepare(work / "box", uid, "strong", hide=[hidden, out], private=[checkout],
                           expose=[checkout / "package"],
                           env={"PATH": "/usr/bin:/bin"}, limits={"processes": 64, "scratch_bytes": 64 * 1024**2})
    argv = [sys.executable, "-c", HOSTILE_SCRIPT, str(os.getpid()), str(hidden / "solution.ipynb"), str(out),
            str(checkout / "package" / "module.py"), str(checkout / "runs" / "executed_solution.ipynb")]
    done = subprocess.run(sandbox.command(spec["path"], argv, "strong"), capture_output=True, text=True, timeout=60)
    assert done.stdout.strip(), f"the sandboxed script printed nothing; stderr:\n{done.stderr[-2000:]}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["uid"] == uid
    assert seen["kept"] == "kept" and seen["private"] == "FileNotFoundError"
    assert seen["network"] in ("OSError", "ConnectionRefusedError") or "Network" in seen["network"]
    assert seen["network"] != "reached" and seen["kill"] == "ProcessLookupError"
    # hidden folders are empty and unreadable, or out of sight altogether (under a private folder)
    assert seen["hidden"] in ("PermissionError", "FileNotFoundError")
    assert seen["out"] in ("PermissionError", "FileNotFoundError")
    assert seen["fork"] == "BlockingIOError" and seen["children"] < 64
    assert seen["disk"] == "ENOSPC"  # the 64 MB scratch is full
    assert list(out.iterdir()) == []
    ps = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert str(uid) not in ps  # the forked children ended with the sandbox
    lock.close()


# --------------------------------------------------------------------------------------------
# Gradescope
# --------------------------------------------------------------------------------------------


def test_gradescope_bundle_grades_one_submission(template, tmp_path):
    zip_path = grade.main(["--gradescope-bundle", "lab1/Part1_TensorFlow.ipynb", "--out", str(tmp_path)])
    assert zip_path == 0
    bundle = tmp_path / "gradescope_Part1_TensorFlow.zip"
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "lab1/solutions/Part1_TensorFlow_Solution.ipynb"} <= set(names)
        z.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    answers = {**classroom.all_solutions(template), **{1: classroom.MISTAKES[1]}}
    del answers[9]
    classroom.write(classroom.fill(template, answers, colab=True), autograder / "submission" / "lab1.ipynb")
    env = dict(os.environ, AUTOGRADER=str(autograder), MDL_PYTHON=sys.executable)
    done = subprocess.run(["bash", str(autograder / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 7
    assert [t["name"] for t in results["tests"]] == [f"TODO {n}" for n in range(1, 10)]
    assert [t["score"] for t in results["tests"]] == [0, 1, 1, 1, 1, 1, 1, 1, 0]
    assert all(t["max_score"] == 1 for t in results["tests"])
    assert "outer brackets" in results["tests"][0]["output"]
    assert "not attempted" in results["tests"][8]["output"]


def _tiny_checkout(root):
    """A checkout with one small notebook: two TODOs in one cell worth 2 and 1 points, judged by
    the instructor's own asserts (a cell tagged own-check) rather than a package check."""
    import nbformat

    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "tiny"\nversion = "0.1.0"\n\n[tool.mitdeeplearning]\n'
                                         'repository = "https://github.com/example/tiny"\n')
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 9: sums"),
        nbformat.v4.new_code_cell("steps = 3", metadata={"tags": ["parameters"],
                                                         "mdl": {"profiles": {"smoke": {"steps": 2}}}}),
        nbformat.v4.new_code_cell(
            "# TODO: set total to the sum of range(steps).\n### BEGIN SOLUTION\ntotal = sum(range(steps))\n"
            "### END SOLUTION\n# TODO: set twice to two times total.\n### BEGIN SOLUTION\ntwice = 2 * total\n"
            "### END SOLUTION", metadata={"mdl": {"points": [2, 1]}}),
        nbformat.v4.new_code_cell("assert total == sum(range(steps)), 'total should be 0 + 1 + … + steps-1'\n"
                                  "assert twice == 2 * total, 'twice should be 2 * total'",
                                  metadata={"tags": ["own-check"]}),
    ]
    (root / "lab9" / "solutions").mkdir(parents=True)
    nbformat.write(nb, root / "lab9" / "solutions" / "Sums_Solution.ipynb")
    notebooks.build(root=root, log=lambda *a, **k: None)
    return root


@pytest.mark.parametrize("level", LEVELS)
def test_points_from_metadata_and_own_check_cells(tmp_path, level):
    root = _tiny_checkout(tmp_path / "tiny")
    template = grade.load_templates(root)[0]
    assert template.points == {1: 2, 2: 1}
    subs = tmp_path / "subs"
    subs.mkdir()
    right = {1: "total = sum(range(steps))", 2: "twice = total + total"}  # another spelling of TODO 2
    classroom.write(classroom.fill(template, right), subs / "a.ipynb")
    classroom.write(classroom.fill(template, {1: "total = steps * 10", 2: "twice = 2 * total"}), subs / "b.ipynb")
    # a right answer that also leaves a process running in the background (the screen, off here,
    # would refuse its imports: what ends the process must not depend on it)
    marker = f"mdl-leftover-probe-{level}-{os.getpid()}"
    background = f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])"
    classroom.write(classroom.fill(template, {**right, 1: right[1] + "\n" + background}), subs / "c.ipynb")
    files = grade.collect([subs])
    grader = grade.Grader(root, [template], tmp_path / "out", cell_timeout=CELL_TIMEOUT, submissions=files,
                          level=level, screen=False)
    work = tmp_path / "work"
    work.mkdir()
    results, _ = grade.grade_class(grader, files, workers=2, progress=False, workspace_base=work)
    assert {r["isolation"] for r in results} == {level}
    rows = {r["file"]: [(t["status"], t["points"]) for t in r["todos"]] for r in results}
    # one own-check cell judges both TODOs of the cell: a wrong total fails them both
    assert rows == {"a.ipynb": [("pass", 2), ("pass", 1)], "b.ipynb": [("fail", 0), ("fail", 0)],
                    "c.ipynb": [("pass", 2), ("pass", 1)]}
    assert "total should be" in results[1]["todos"][0]["message"]
    assert [r["total"] for r in results] == [3, 0, 3] and results[0]["max_points"] == 3
    # at every level, no kernel and nothing a submission started outlives the grading
    running = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    assert not [line for line in running.splitlines() if str(work) in line or marker in line]


def test_a_file_name_is_never_a_spreadsheet_formula(tmp_path):
    from mdl_tools.grading import report

    row = {"student": "=HYPERLINK(\"http://x\")", "file": "@x.ipynb", "notebook": "", "status": "unreadable",
           "problem": "not a notebook", "todos": [], "total": 0, "max_points": 0, "edits": [], "flags": []}
    report.write_csv([row], tmp_path / "grades.csv")
    read = next(csv.DictReader(open(tmp_path / "grades.csv")))
    assert read["student"] == "'=HYPERLINK(\"http://x\")" and read["file"] == "'@x.ipynb"
