"""The instructor's path, played end to end on a copy of the demo course (tests/fixtures/demo):
fork → build → a new exercise with its check → a marker typo and a hand edit caught → release →
publish. Each step asserts what the command prints and what it writes."""

import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest

from mdl_tools import notebooks, release

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "demo"
SOLUTION = "lab0/solutions/Demo_Solution.ipynb"
STUDENT = "lab0/Demo.ipynb"
UPSTREAM = "https://github.com/example/demo-course"
FORK = "https://github.com/teacher/course-2027"
PUBLIC = "https://github.com/teacher/course-2027-students"
README = f"""# Demo course

Install: `pip install "demo-course @ git+{UPSTREAM}@v9.9.9"`.
Open [the lab]({UPSTREAM}/blob/trunk/lab0/Demo.ipynb) or
[in Colab](https://colab.research.google.com/github/example/demo-course/blob/trunk/lab0/Demo.ipynb).
"""
NEW_CHECK = '''

@check
def check_double(f):
    require(f(4) == 8, f"double(4) should be 8, got {f(4)!r}")
    return "double works"
'''
NEW_EXERCISE = """def double(x):
    # TODO: return twice x
    ### BEGIN SOLUTION
    twice = 2 * x
    ### END SOLUTION
    return twice


mdl.lab0.check_double(double)"""


def run(root, *args):
    return subprocess.run([sys.executable, "-m", "mdl_tools", *args], cwd=root, capture_output=True, text=True,
                          timeout=300)


def git(root, *args):
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cells(path):
    return nbformat.read(path, as_version=4).cells


@pytest.fixture
def course(tmp_path, monkeypatch):
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "Instructor")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "instructor@example.org")
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    (root / "README.md").write_text(README)
    (root / ".gitignore").write_text("__pycache__/\nruns/\n")
    notebooks.build(root=root, log=lambda *a, **k: None, normalize=True)
    git(root, "init", "-q", "-b", "trunk")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "the course as cloned")
    return root


def test_fork_exercise_typo_hand_edit_release_publish(course, tmp_path):
    # 1. fork: one command points every link at the fork
    forked = run(course, "fork", FORK)
    assert forked.returncode == 0, forked.stderr
    assert f"The course now points at {FORK} (branch trunk)" in forked.stdout
    assert f"git tag v9.9.9 && git push origin trunk v9.9.9" in forked.stdout
    assert f'repository = "{FORK}"' in (course / "pyproject.toml").read_text()
    readme = (course / "README.md").read_text()
    assert UPSTREAM not in readme and "example/demo-course" not in readme
    assert f"demo-course @ git+{FORK}@v9.9.9" in readme
    assert "colab.research.google.com/github/teacher/course-2027/blob/trunk/lab0/Demo.ipynb" in readme
    for rel in (SOLUTION, STUDENT):
        text = (course / rel).read_text()
        assert UPSTREAM not in text and f"{FORK}/blob/trunk/{rel}" in text and f"git+{FORK}@v9.9.9" in text
    assert notebooks.check(course) == []  # the solutions are canonical too: no "not normalised"
    refused = run(course, "fork", "git@github.com:teacher/course-2027.git")
    assert refused.returncode == 2 and "an SSH address" in refused.stderr
    git(course, "commit", "-q", "-am", "fork")
    git(course, "tag", "v9.9.9")
    assert "⚠" not in run(course, "check").stdout  # the tag the notebooks install exists

    # 2. a new exercise with its check, in the package and in the solution
    lab0 = course / "demo_pkg" / "lab0.py"
    lab0.write_text(lab0.read_text() + NEW_CHECK)
    nb = nbformat.read(course / SOLUTION, as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if "report_result" in c.source)
    exercise = nbformat.v4.new_code_cell(NEW_EXERCISE)
    del exercise["id"]  # the solution is stored in nbformat 4.4, without cell ids
    nb.cells.insert(last, exercise)
    nbformat.write(nb, course / SOLUTION)
    built = run(course, "build", "--normalize")
    assert built.returncode == 0 and "built lab0/Demo.ipynb (3 TODOs)" in built.stdout
    student = "\n".join(c.source for c in cells(course / STUDENT))
    assert "raise NotImplementedError('TODO 3: return twice x')" in student and "2 * x" not in student
    checked = run(course, "check")
    assert checked.returncode == 0, checked.stdout
    assert "⚠ demo_pkg changed since v9.9.9, which Colab installs (demo_pkg/lab0.py)" in checked.stdout
    ran = run(course, "run", SOLUTION, "--profile", "smoke")  # the kernel calls the check just written
    assert ran.returncode == 0, ran.stdout + ran.stderr

    # 3. a marker typo is caught, with its line; nothing reaches the student copy
    before = (course / STUDENT).read_bytes()
    nb = nbformat.read(course / SOLUTION, as_version=4)
    exercise = next(i for i, c in enumerate(nb.cells) if "def double" in c.source)
    nb.cells[exercise].source = nb.cells[exercise].source.replace("### END SOLUTION", "## END SOLUTION")
    nbformat.write(nb, course / SOLUTION)
    typo = run(course, "build")
    assert typo.returncode == 2
    assert f"{SOLUTION}, cell {exercise + 1}, line 5: '## END SOLUTION' looks like a solution marker" in typo.stderr
    assert (course / STUDENT).read_bytes() == before
    nb.cells[exercise].source = nb.cells[exercise].source.replace("## END SOLUTION", "### END SOLUTION")
    nbformat.write(nb, course / SOLUTION)
    assert run(course, "build").returncode == 0

    # 4. a hand edit of the student copy is caught, and the message says where the edit belongs
    text = (course / STUDENT).read_text()
    (course / STUDENT).write_text(text.replace("return twice x", "return twice x (hint: use 2 * x)"))
    drift = run(course, "check")
    assert drift.returncode == 1 and "move the edit into the solution" in drift.stdout
    assert run(course, "diff", "--drift", STUDENT).returncode == 1
    assert run(course, "build").returncode == 0 and run(course, "diff", "--drift", STUDENT).returncode == 0
    git(course, "add", ".")
    git(course, "commit", "-q", "-m", "A doubling exercise")

    # 5. release: one version, notebooks installing its tag, a changelog entry, the tag to push
    bad = run(course, "release", "9.9")
    assert bad.returncode == 2 and "not of the form X.Y.Z" in bad.stderr
    assert "not above the current 9.9.9" in run(course, "release", "9.9.9").stderr
    released = run(course, "release", "9.10.0")
    assert released.returncode == 0, released.stderr
    assert f"the notebooks now install demo-course @ git+{FORK}@v9.10.0" in released.stdout
    assert 'git commit -am "Release 9.10.0" && git tag v9.10.0 && git push origin trunk v9.10.0' in released.stdout
    assert 'version = "9.10.0"' in (course / "pyproject.toml").read_text()
    for rel in (SOLUTION, STUDENT, "README.md"):
        assert f"git+{FORK}@v9.10.0" in (course / rel).read_text() and "@v9.9.9" not in (course / rel).read_text()
    changelog = (course / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and "## 9.10.0 (" in changelog
    assert "- A doubling exercise" in changelog and "- fork" not in changelog  # commits that touched the package
    assert "there is no tag v9.10.0 here" in run(course, "check").stdout
    git(course, "commit", "-q", "-am", "Release 9.10.0")
    git(course, "tag", "v9.10.0")
    final = run(course, "check")
    assert final.returncode == 0 and "⚠" not in final.stdout, final.stdout
    git(course, "tag", "v9.11.0")  # a tag someone made by hand
    taken = run(course, "release", "9.11.0")
    assert taken.returncode == 2 and "tag v9.11.0 already exists" in taken.stderr
    git(course, "tag", "-d", "v9.11.0")

    # 6. publish: the student-only tree, pointing at the public repository
    out = tmp_path / "public"
    published = run(course, "publish", str(out), "--repository", PUBLIC)
    assert published.returncode == 0, published.stderr
    assert f"to {out} for {PUBLIC} (no solutions, no instructor tooling)" in published.stdout
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "demo_pkg/__init__.py", "demo_pkg/lab0.py", STUDENT, "pyproject.toml"]
    everything = "\n".join((out / f).read_text() for f in files)
    assert "BEGIN SOLUTION" not in everything and "2 * x" not in everything and "x**exponent" not in everything
    assert FORK + "/" not in everything and f'repository = "{PUBLIC}"' in (out / "pyproject.toml").read_text()
    badge = cells(out / STUDENT)[0].source
    assert f"{PUBLIC}/blob/trunk/{STUDENT}" in badge and "_Solution" not in badge
    assert f"git+{PUBLIC}@v9.10.0" in (out / STUDENT).read_text()
    again = run(course, "publish", str(out))
    assert again.returncode == 2 and "is not empty; pass --replace" in again.stderr


def test_release_bumps_a_version_read_from_the_package(tmp_path):
    """The real course keeps its version in mitdeeplearning/__init__.py (pyproject reads it)."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""A package."""\n\n__version__ = "1.2.3"  # the one source\n')
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\ndynamic = ["version"]\n\n[tool.setuptools.dynamic]\n'
        'version = { attr = "pkg.__version__" }\n\n[tool.mitdeeplearning]\nrepository = "https://github.com/a/b"\n')
    assert notebooks.load_config(tmp_path)["version"] == "1.2.3"
    assert release.set_version(tmp_path, "1.3.0") == [tmp_path / "pkg" / "__init__.py"]
    assert (tmp_path / "pkg" / "__init__.py").read_text().endswith('__version__ = "1.3.0"  # the one source\n')
    assert notebooks.load_config(tmp_path)["version"] == "1.3.0"


def test_the_checkout_keeps_one_version():
    root = pathlib.Path(__file__).parent.parent
    import mitdeeplearning

    config = notebooks.load_config(root)
    assert notebooks.version_source(root) == (root / "mitdeeplearning" / "__init__.py", "__version__")
    assert config["version"] == mitdeeplearning.__version__
    assert notebooks.version_problems(root, config) == []
