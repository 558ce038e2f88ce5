"""build / check / run / diff on the miniature course in tests/fixtures/demo."""

import json
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest

from mdl_tools import notebooks, runner

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "demo"
SOLUTION = "lab0/solutions/Demo_Solution.ipynb"
STUDENT = "lab0/Demo.ipynb"


@pytest.fixture
def course(tmp_path):
    """A fresh copy of the demo course with its student copy built."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    notebooks.build(root=root, log=lambda *a, **k: None, normalize=True)
    return root


def cli(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "mdl_tools", *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def code_sources(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_build_replaces_regions_with_numbered_stubs(course):
    student = "\n".join(code_sources(course / STUDENT))
    assert notebooks.BEGIN not in student and notebooks.END not in student
    assert "x**exponent" not in student and "hello from the" not in student
    assert "raise NotImplementedError('TODO 1: raise x to `exponent` (a hint may span two lines)')" in student
    assert "raise NotImplementedError('TODO 2: build the message')" in student
    # the structure around a region stays for the student
    assert "def power(x):" in student and "return result" in student
    # the solution keeps its code and gets the same numbers
    solution = "\n".join(code_sources(course / SOLUTION))
    assert "# TODO 1: raise x" in solution and "# TODO 2: build the message" in solution
    assert "result = x**exponent" in solution


def test_build_writes_badges_from_config_and_own_path(course):
    for rel in (SOLUTION, STUDENT):
        nb = nbformat.read(course / rel, as_version=4)
        badge = nb.cells[0]
        assert badge.metadata["tags"] == ["badges"]
        assert f"colab.research.google.com/github/example/demo-course/blob/trunk/{rel}" in badge.source
        assert f"https://github.com/example/demo-course/blob/trunk/{rel}" in badge.source
        setup = next(c for c in nb.cells if "colab-setup" in c.metadata.get("tags", []))
        assert "demo-course @ git+https://github.com/example/demo-course@v9.9.9" in setup.source
        assert "google.colab" in setup.source


def test_build_strips_outputs_and_metadata(course):
    nb = nbformat.read(course / SOLUTION, as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    nb.cells[3].execution_count = 7
    nb.metadata["widgets"] = {"junk": 1}
    nbformat.write(nb, course / SOLUTION)
    notebooks.build(root=course, log=lambda *a, **k: None)
    for rel in (STUDENT,):
        again = nbformat.read(course / rel, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in again.cells if c.cell_type == "code")
        assert "widgets" not in again.metadata
    # a second build changes nothing
    assert notebooks.build(root=course, log=lambda *a, **k: None) == []


def test_build_leaves_the_solution_byte_identical_unless_asked(course):
    nb = nbformat.read(course / SOLUTION, as_version=4)
    nb.metadata["widgets"] = {"state": {}}  # what Jupyter adds, and the canonical form drops
    nbformat.write(nb, course / SOLUTION)
    edited = (course / SOLUTION).read_bytes()
    notes = []
    assert notebooks.build(root=course, log=notes.append) == []  # the student copy was already right
    assert (course / SOLUTION).read_bytes() == edited
    assert any("build --normalize" in n for n in notes)
    assert any("build --normalize" in p for p in notebooks.check(course))
    assert notebooks.build(root=course, log=notes.append, normalize=True) == [course / SOLUTION]
    assert notebooks.check(course) == []


def test_check_is_clean_after_build(course):
    assert notebooks.check(course) == []
    result = cli(course, "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_rejects_hand_edited_student_copy(course):
    nb = nbformat.read(course / STUDENT, as_version=4)
    cell = next(c for c in nb.cells if "NotImplementedError('TODO 2" in c.source)
    cell.source = cell.source.replace("raise NotImplementedError('TODO 2: build the message')", "message = 'cheat'")
    nbformat.write(nb, course / STUDENT)
    problems = notebooks.check(course)
    assert any(STUDENT in p and "differs" in p for p in problems), problems
    result = cli(course, "check")
    assert result.returncode == 1 and "lab0/Demo.ipynb: differs" in result.stdout
    drift = cli(course, "diff", "--drift", STUDENT)
    assert "message = 'cheat'" in drift.stdout and "raise NotImplementedError('TODO 2" in drift.stdout


def test_check_rejects_saved_outputs(course):
    nb = nbformat.read(course / STUDENT, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 3
    nbformat.write(nb, course / STUDENT)
    assert any("saved outputs" in p for p in notebooks.check(course))


def _edit_solution(course, old, new):
    """Replace ``old`` by ``new`` in the solution's code cells (exactly one must contain it)."""
    path = course / SOLUTION
    nb = nbformat.read(path, as_version=4)
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(hits) == 1, f"{old!r} found in {len(hits)} cells"
    hits[0].source = hits[0].source.replace(old, new)
    nbformat.write(nb, path)


def test_check_rejects_todo_without_check(course):
    _edit_solution(course, "mdl.lab0.check_message(message)", "print(message)")
    notebooks.build(root=course, log=lambda *a, **k: None)
    problems = notebooks.check(course)
    assert any("TODO 2" in p and "has no check after it" in p for p in problems), problems


def test_check_rejects_unbalanced_markers(course):
    _edit_solution(course, "### END SOLUTION\n    return result", "    return result")
    problems = notebooks.check(course)
    assert any("has no matching '### END SOLUTION'" in p for p in problems), problems
    result = cli(course, "build")
    assert result.returncode == 2 and "no matching" in result.stderr


def test_check_rejects_student_cell_that_does_not_parse(course):
    # a region inside an expression leaves the student a bare `raise` inside parentheses
    _edit_solution(
        course,
        '# TODO 2: build the message\n### BEGIN SOLUTION\nmessage = f"hello from the {greeting} profile"\n### END SOLUTION',
        'message = (\n    # TODO: build the message\n    ### BEGIN SOLUTION\n    f"hello from the {greeting} profile"\n    ### END SOLUTION\n)',
    )
    notebooks.build(root=course, log=lambda *a, **k: None)
    problems = notebooks.check(course)
    assert any(STUDENT in p and "does not parse" in p for p in problems), problems


def test_region_without_hint_is_an_error(course):
    _edit_solution(course, "# TODO 2: build the message\n", "")
    with pytest.raises(notebooks.NotebookFormatError, match="has no '# TODO: <hint>'"):
        notebooks.build(root=course, log=lambda *a, **k: None)


def test_diff_shows_solution_against_stub(course):
    result = cli(course, "diff", STUDENT)
    assert result.returncode == 0
    assert "== TODO 1" in result.stdout and "-    result = x**exponent" in result.stdout
    assert "+    raise NotImplementedError('TODO 1" in result.stdout
    assert "== TODO 2 (cell" in result.stdout


def test_run_applies_profile_overrides(course, tmp_path):
    out = tmp_path / "runs"
    smoke = runner.run_notebook(course / SOLUTION, "smoke", out, course)
    assert smoke.status == "ok", smoke.error
    assert smoke.headline == "HEADLINE hello from the smoke profile, power(3) = 9"
    assert smoke.result == {"power_of_3": 9, "greeting": "smoke"}  # the record, read as data
    full = runner.run_notebook(course / SOLUTION, "full", out, course)
    assert full.headline == "HEADLINE hello from the full profile, power(3) = 27"
    assert full.result == {"power_of_3": 27, "greeting": "full"}
    executed = nbformat.read(out / SOLUTION, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    with pytest.raises(runner.ProfileError, match="no profile 'nightly'"):
        runner.run_notebook(course / SOLUTION, "nightly", out, course)


def test_student_copy_stops_at_todo_1(course, tmp_path):
    result = runner.run_notebook(course / STUDENT, "smoke", tmp_path, course)
    assert result.status == "failed"
    assert result.error.startswith("NotImplementedError: TODO 1: raise x")
    assert "def power(x):" in result.error  # the failing cell is shown


def test_run_all_writes_summary_and_exit_code(course):
    result = cli(course, "run", "--all", "--profile", "default")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1/1] lab0/solutions/Demo_Solution.ipynb (profile default) … ok" in result.stdout
    summary = json.loads((course / "runs" / "default" / "summary.json").read_text())
    assert summary["results"][0]["headline"] == "HEADLINE hello from the default profile, power(3) = 9"
    assert summary["results"][0]["result"] == {"power_of_3": 9, "greeting": "default"}
    assert "| lab0/solutions/Demo_Solution.ipynb | ok |" in (course / "runs" / "default" / "summary.md").read_text()
    failing = cli(course, "run", STUDENT, "--profile", "smoke")
    assert failing.returncode == 1 and "FAILED" in failing.stdout


def test_run_with_no_labs_says_so(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mitdeeplearning]\nrepository = "https://github.com/x/y"\n')
    result = cli(tmp_path, "run", "--all")
    assert result.returncode == 0
    assert "Nothing to run" in result.stdout


def test_headline_falls_back_to_printed_text_without_a_record():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('done')"), nbformat.v4.new_markdown_cell("end")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    assert runner.result_record(nb) == ("", {})
    assert runner.headline(nb) == "done"
    record = nbformat.v4.new_output("display_data", data={runner.RESULT_MIME: {"acc": 0.5}, "text/plain": "acc 50 %"})
    nb.cells[0].outputs.append(record)
    assert runner.result_record(nb) == ("acc 50 %", {"acc": 0.5})
    assert runner.headline(nb) == "acc 50 %"


# --- no answer can leak ---------------------------------------------------------------------

MESSAGE_REGION = '# TODO 2: build the message\n### BEGIN SOLUTION\nmessage = f"hello from the {greeting} profile"\n### END SOLUTION'
MARKER_TYPOS = [
    ("### BEGIN SOLUTION", "## BEGIN SOLUTION"),
    ("### BEGIN SOLUTION", "###BEGIN SOLUTION"),
    ("### BEGIN SOLUTION", "### BEGIN SOLUTIONS"),
    ("### BEGIN SOLUTION", "### begin solution"),
    ("### BEGIN SOLUTION", "### BEGIN SOLUTION  # the answer"),
    ("### BEGIN SOLUTION", "#### BEGIN_SOLUTION"),
    ("### END SOLUTION", "## END SOLUTION"),
    ("### END SOLUTION", "### End Solution"),
]


@pytest.mark.parametrize("exact, typo", MARKER_TYPOS, ids=[t for _, t in MARKER_TYPOS])
def test_marker_typo_fails_build_and_check_with_its_line(course, exact, typo):
    _edit_solution(course, MESSAGE_REGION, MESSAGE_REGION.replace(exact, typo))
    student_before = (course / STUDENT).read_bytes()
    line = 2 if "BEGIN" in exact else 4
    # the message cell is the 8th of the notebook: badges, title, setup, import, parameters, heading, power
    where = f"{SOLUTION}, cell 8, line {line}: {typo!r} looks like a solution marker but is not one"
    with pytest.raises(notebooks.NotebookFormatError) as info:
        notebooks.build(root=course, log=lambda *a, **k: None)
    assert where in str(info.value) and f"write exactly {exact!r}" in str(info.value)
    assert (course / STUDENT).read_bytes() == student_before  # nothing was written
    assert any(where in p for p in notebooks.check(course))
    result = cli(course, "build")
    assert result.returncode == 2 and where in result.stderr
    # the advice the old check gave (normalise) cannot clear it either
    assert cli(course, "build", "--normalize").returncode == 2
    assert "hello from the" not in "\n".join(code_sources(course / STUDENT))
    checked = cli(course, "check")
    assert checked.returncode == 1 and where in checked.stdout and notebooks.CELL_CONVENTION in checked.stdout


def test_todo_comment_without_region_fails(course):
    _edit_solution(course, MESSAGE_REGION, '# TODO 2: build the message\nmessage = f"hello from the {greeting} profile"')
    with pytest.raises(notebooks.NotebookFormatError, match=r"cell 8, line 1: '# TODO 2: build the message' is a "
                                                            r"TODO comment with no '### BEGIN SOLUTION'"):
        notebooks.build(root=course, log=lambda *a, **k: None)
    # any spelling of TODO counts, also a second comment under a real hint's region
    _edit_solution(course, 'message = f"hello from the {greeting} profile"',
                   '### BEGIN SOLUTION\nmessage = 1\n### END SOLUTION\n#todo: and the rest')
    problems = notebooks.check(course)
    assert any("cell 8, line 5: '#todo: and the rest' is a TODO comment" in p for p in problems), problems


def test_answer_quoted_in_markdown_fails_build_and_check(course):
    nb = nbformat.read(course / SOLUTION, as_version=4)
    heading = next(c for c in nb.cells if c.cell_type == "markdown" and c.source == "## Powers")
    heading.source = "## Powers\n\nHint: `result = x**exponent` does it."  # the answer of TODO 1, verbatim
    nbformat.write(nb, course / SOLUTION)
    with pytest.raises(notebooks.NotebookFormatError, match=r"lab0/Demo.ipynb, cell 6: shows the answer to TODO 1 verbatim"):
        notebooks.build(root=course, log=lambda *a, **k: None)
    assert any("shows the answer to TODO 1" in p for p in notebooks.check(course))


def test_answer_pasted_into_committed_student_copy_fails_check(course):
    nb = nbformat.read(course / STUDENT, as_version=4)
    cell = next(c for c in nb.cells if "NotImplementedError('TODO 1" in c.source)
    cell.source = cell.source.replace("raise NotImplementedError('TODO 1: raise x to `exponent` (a hint may span two "
                                      "lines)')", "result = x**exponent")
    nbformat.write(nb, course / STUDENT)
    problems = notebooks.check(course)
    assert f"{STUDENT}, cell 7: shows the answer to TODO 1 verbatim ('result = x**exponent'); remove it there (in " \
           "the solution, if it is a markdown cell)" in problems
    drift = [p for p in problems if "differs from what build generates" in p]
    assert drift and "move the edit into the solution" in drift[0]
    assert cli(course, "diff", "--drift", STUDENT).returncode == 1
    notebooks.build(root=course, log=lambda *a, **k: None)
    assert cli(course, "diff", "--drift", STUDENT).returncode == 0


def test_answer_given_elsewhere_as_code_is_a_note_not_a_failure(course):
    _edit_solution(course, "mdl.lab0.check_message(message)",
                   "mdl.lab0.check_message(message)\nmessage = f\"hello from the {greeting} profile\"")
    notebooks.build(root=course, log=lambda *a, **k: None, normalize=True)
    assert notebooks.check(course) == []
    info, _ = notebooks.warnings(course)
    assert f"{STUDENT}, cell 9: shows 'message = f\"hello from the {{greeting}} profile\"', part of the answer to " \
           "TODO 2, as given code" in info


# --- checks found by parsing ---------------------------------------------------------------


def test_a_comment_naming_a_check_is_not_a_check(course):
    _edit_solution(course, "mdl.lab0.check_message(message)", "# mdl.lab0.check_message(message)\nprint(message)")
    problems = notebooks.check(course)
    assert any("TODO 2 (cell 8) has no check after it" in p and "own-check" in p for p in problems), problems


def test_a_check_must_exist_in_the_package(course):
    _edit_solution(course, "mdl.lab0.check_message(message)", "mdl.lab0.check_mesage(message)")
    problems = notebooks.check(course)
    assert any("TODO 2 (cell 8) calls mdl.lab0.check_mesage, which demo_pkg/lab0.py does not define" in p
               for p in problems), problems
    _edit_solution(course, "mdl.lab0.check_mesage(message)", "mdl.lab7.check_message(message)")
    assert any("no module demo_pkg/lab7.py" in p for p in notebooks.check(course))


def test_own_check_cell_is_the_documented_opt_out(course):
    path = course / SOLUTION
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.source == "mdl.lab0.check_message(message)")
    cell.source = "assert message.startswith('hello'), 'say hello first'"
    nbformat.write(nb, path)
    assert any("TODO 2" in p and "has no check" in p for p in notebooks.check(course))  # untagged: refused
    cell.metadata["tags"] = [notebooks.OWN_CHECK_TAG]
    nbformat.write(nb, path)
    notebooks.build(root=course, log=lambda *a, **k: None, normalize=True)
    assert notebooks.check(course) == []


# --- links, repository, profiles, stale references ------------------------------------------


@pytest.mark.parametrize("url, why", [
    ("https://github.com/you/course.git", "ends in .git"),
    ("git@github.com:you/course.git", "SSH"),
    ("https://gitlab.com/you/course", "not a GitHub https address"),
    ("https://github.com/you", "not of the form owner/name"),
    ("https://github.com/you/course/tree/main", "not of the form owner/name"),
])
def test_repository_url_is_validated(course, url, why):
    text = (course / "pyproject.toml").read_text().replace("https://github.com/example/demo-course", url)
    (course / "pyproject.toml").write_text(text)
    result = cli(course, "build")
    assert result.returncode == 2
    assert why in result.stderr and "write https://github.com/<owner>/<name>" in result.stderr


def test_links_to_own_files_follow_the_repository(course):
    (course / "RESULTS.md").write_text("# Results\n")
    nb = nbformat.read(course / SOLUTION, as_version=4)
    nb.cells[1].source += "\n\nMeasured: [RESULTS.md](https://github.com/upstream/course/blob/main/RESULTS.md#lab-0)," \
                         " and [other](https://github.com/upstream/course/blob/main/NOT_HERE.md)."
    nbformat.write(nb, course / SOLUTION)
    notebooks.build(root=course, log=lambda *a, **k: None)
    student = nbformat.read(course / STUDENT, as_version=4).cells[1].source
    assert "https://github.com/example/demo-course/blob/trunk/RESULTS.md#lab-0" in student
    assert "https://github.com/upstream/course/blob/main/NOT_HERE.md" in student  # not a file of this course
    assert any("not normalised" in p for p in notebooks.check(course))
    (course / "README.md").write_text("See https://github.com/upstream/course/blob/main/RESULTS.md\n"
                                      "pip install \"demo-course @ git+https://github.com/upstream/course@v1.0.0\"\n")
    problems = notebooks.check(course)
    assert any(p.startswith("README.md, line 1: links to a file of this course in another repository") for p in problems)
    assert any(p.startswith("README.md, line 2: installs 'demo-course @ git+https://github.com/upstream/course@v1.0.0'")
               for p in problems)


def test_profiles_must_override_names_of_the_parameters_cell(course):
    nb = nbformat.read(course / SOLUTION, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.metadata["mdl"]["profiles"]["smoke"] = {"greting": "smoke"}
    params.metadata["mdl"]["profiles"]["nightly"] = {"exponent": 1}
    nbformat.write(nb, course / SOLUTION)
    problems = notebooks.check(course)
    assert any("profile 'smoke' overrides greting, which the parameters cell does not set" in p for p in problems)
    assert any("a profile 'nightly'; the profiles are smoke, default, long, full" in p for p in problems)
    with pytest.raises(runner.ProfileError, match="greting"):
        runner.profile_overrides(nb, "smoke")


def test_stale_todo_references_are_flagged(course):
    lab0 = course / "demo_pkg" / "lab0.py"
    lines = len(lab0.read_text().splitlines())
    lab0.write_text(lab0.read_text() + '\nHINT = "write power (TODO 1) first"\nOLD = "see TODO 3"\n'
                    'VAGUE = "build `message` with an f-string in TODO 1: make_message_text()"\n')
    nb = nbformat.read(course / SOLUTION, as_version=4)
    nb.cells[1].source += "\n\nTODO 2 asks for `message`; `power(` comes from TODO 2."
    nbformat.write(nb, course / SOLUTION)
    notebooks.build(root=course, log=lambda *a, **k: None, normalize=True)
    problems = notebooks.check(course)
    stale = [p for p in problems if "renumbered?" in p]
    assert stale == [
        f"demo_pkg/lab0.py, line {lines + 3}: says TODO 3, but lab0 has 2 TODOs (renumbered?)",
        f"{SOLUTION}, cell 2, line 5: says TODO 2, but power belongs to TODO 1 (renumbered?)",
    ]  # HINT (TODO 1 with power) is right; VAGUE names nothing any TODO cell has, and TODO 1 exists


def test_check_catalogue_counts_entries_per_todo(course):
    """`check --catalogue` counts what pytest collects: entries made in loops count one by one."""
    (course / "tests").mkdir()
    (course / "tests" / "test_catalogue_lab0.py").write_text(
        "import pytest\n\n"
        "ENTRIES = [f'TODO 1.1: wrong: mistake {i}' for i in range(6)] + ['TODO 1.1: valid: a', 'TODO 1.1: valid: b']\n"
        "ENTRIES += ['TODO 1.2: wrong: only one', 'TODO 1.3: wrong: a TODO that moved']\n\n\n"
        "@pytest.mark.parametrize('entry', [pytest.param(e, id=e) for e in ENTRIES])\n"
        "def test_catalogue(entry):\n    assert entry\n")
    result = cli(course, "check", "--catalogue")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"· {SOLUTION}: catalogue entries (wrong/valid) per TODO: 1: 6/2, 2: 1/0" in result.stdout
    assert f"⚠ {SOLUTION}: TODO 2 has 1 wrong and 0 valid catalogue entries" in result.stdout
    assert f"⚠ tests/test_catalogue_lab0.py: entries for TODO 1.3, but {SOLUTION} has 2 TODOs" in result.stdout
    assert "TODO 1 has" not in result.stdout
    assert "catalogue entries" not in cli(course, "check").stdout  # counting is asked for
