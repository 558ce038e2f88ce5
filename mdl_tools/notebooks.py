"""Instructor tooling: generate student notebooks from solutions, and check that nothing drifted.

A solution notebook (``labN/solutions/<Name>_Solution.ipynb``) is the single source. Code that
students write sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, under a ``# TODO:``
hint comment. :func:`build` replaces each region by a stub raising
``NotImplementedError("TODO <n>: <hint>")``. See ``docs/AUTHORING.md`` for the whole format.

No answer may leak: a line that looks like a marker but is not exact, a ``# TODO`` comment on no
region, or a region's line shown verbatim in a student copy stops ``build`` and fails ``check``.
Messages count cells from 1 at the top of the notebook, markdown included (:data:`CELL_CONVENTION`).

This module needs only nbformat and the standard library (no TensorFlow), so ``make check`` is fast.
"""

import ast
import copy
import dataclasses
import difflib
import pathlib
import re
import tomllib

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_SUFFIX = "_Solution"
LAB_GLOB = "lab*/solutions/*_Solution.ipynb"

_TODO_RE = re.compile(r"^(?P<indent>\s*)#\s*TODO(?:\s+\d+)?\s*:\s*(?P<hint>.*)$")
# Anything a person might type for a marker: any number of '#', any case, '_' or '-' or no space,
# "SOLUTIONS", trailing text. Only the exact BEGIN / END lines are markers; the rest must be fixed,
# or the answer below them would reach students as ordinary code.
_MARKER_LIKE_RE = re.compile(r"^\s*#+\s*(?:BEGIN|END)[\s_-]*SOLUTIONS?\b", re.IGNORECASE)
# A comment that reads as an exercise ("# TODO", "#todo 3:", "# TODO 3 -"): it must sit on a region.
_TODO_LIKE_RE = re.compile(r"^\s*#\s*TODO\b", re.IGNORECASE)
# A check call: mdl.labN.check_<thing>(…) or, from the 2020/21 notebooks, mdl.labN.test_<thing>(…)
_CHECK_NAME_RE = re.compile(r"^(?:check|test)_\w+$")
OWN_CHECK_TAG = "own-check"  # a code cell with the instructor's own `assert`, standing in for a check
PROFILES = ("smoke", "default", "long", "full")  # every profile a notebook may define; `run --profile` offers these
CELL_CONVENTION = "cells are counted from 1 at the top of the notebook, markdown cells included"
# What JupyterLab's kernel reports for the project's Python (3.11, the venv `make` creates). A
# notebook that says exactly this opens unmodified; any difference and JupyterLab rewrites it on
# open, so closing an untouched notebook would ask to save it.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}
_ALLOWED_NB_METADATA = ("kernelspec", "language_info", "colab", "accelerator")
_ALLOWED_CELL_METADATA = ("tags", "mdl", "id")


class NotebookFormatError(ValueError):
    """A solution notebook breaks the authoring format; the message names the cell and the fix.

    ``problems`` holds one line per problem found (the message joins them).
    """

    def __init__(self, message, problems=None):
        super().__init__(message)
        self.problems = list(problems or [message])


def _cell(index):
    """How messages name the cell at 0-based ``index``: 1-based, markdown included (CELL_CONVENTION)."""
    return f"cell {index + 1}"


# --------------------------------------------------------------------------------------------
# Configuration and paths
# --------------------------------------------------------------------------------------------


def find_root(start=None):
    """The checkout root: the nearest folder above ``start`` (or cwd) whose pyproject.toml has a
    ``[tool.mitdeeplearning]`` table (``mdl_tools/pyproject.toml``, the tools' own, has none)."""
    here = pathlib.Path(start or pathlib.Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.mitdeeplearning]" in candidate.read_text():
            return folder
    raise FileNotFoundError(
        f"No pyproject.toml with a [tool.mitdeeplearning] table found above {here}: "
        "run this command inside a checkout of the course."
    )


_REPOSITORY_RE = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]+)$")
REPOSITORY_FORM = "https://github.com/<owner>/<name> (no .git, no trailing path)"


def validate_repository(url):
    """``url`` if it is a GitHub repository's web address, else a ValueError naming the accepted form.

    Colab opens notebooks only from GitHub (``colab.research.google.com/github/<owner>/<name>``)
    and pip installs from ``git+https://…``, so both links are built from this one form.
    """
    url = str(url).strip().rstrip("/")
    if url.startswith("git@") or url.startswith("ssh://"):
        why = "an SSH address (Colab and pip on Colab need the https one)"
    elif url.endswith(".git"):
        why = "it ends in .git (the badges need the repository's web address)"
    elif not url.startswith("https://github.com/"):
        why = "not a GitHub https address (Colab opens notebooks from GitHub only)"
    elif not _REPOSITORY_RE.match(url):
        why = "not of the form owner/name"
    else:
        return url
    raise NotebookFormatError(f"repository {url!r} is not accepted: {why}; write {REPOSITORY_FORM}")


def _static_attr(module_file, name):
    """The string literal assigned to ``name`` at the top of a Python file (read, never imported)."""
    tree = ast.parse(pathlib.Path(module_file).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value, node.lineno
    raise NotebookFormatError(f"{module_file} has no line {name} = \"…\" (a string literal) to read the version from")


def version_source(root, pyproject=None):
    """``(path, line)`` of the one place that holds the package version: ``[project] version`` in
    pyproject.toml, or the ``attr`` that ``[tool.setuptools.dynamic] version`` names."""
    root = pathlib.Path(root)
    if pyproject is None:
        with open(root / "pyproject.toml", "rb") as fh:
            pyproject = tomllib.load(fh)
    project = pyproject.get("project", {})
    if "version" in project:
        return root / "pyproject.toml", None
    attr = pyproject.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("version", {}).get("attr")
    if "version" not in project.get("dynamic", []) or not attr:
        raise NotebookFormatError(
            "pyproject.toml names no version: give [project] version = \"X.Y.Z\", or dynamic = [\"version\"] "
            "with [tool.setuptools.dynamic] version = {attr = \"package.__version__\"}"
        )
    module, _, name = attr.rpartition(".")
    path = root / pathlib.Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return path, name


def read_version(root, pyproject=None):
    """The package version, from its one source (see :func:`version_source`)."""
    path, name = version_source(root, pyproject)
    if name is None:
        with open(path, "rb") as fh:
            return tomllib.load(fh)["project"]["version"]
    return _static_attr(path, name)[0]


def load_config(root):
    """The ``[tool.mitdeeplearning]`` table of ``pyproject.toml`` (repository URL, branch, the
    package whose ``labN`` modules hold the checks) with the distribution's name and version (the
    Colab cell installs it by that name, at the tag ``v<version>``)."""
    with open(pathlib.Path(root) / "pyproject.toml", "rb") as fh:
        pyproject = tomllib.load(fh)
    table = pyproject.get("tool", {}).get("mitdeeplearning", {})
    if "repository" not in table:
        raise NotebookFormatError(
            "pyproject.toml has no [tool.mitdeeplearning] repository = \"https://github.com/…\"; "
            "badges and the Colab install line are built from it."
        )
    project = pyproject.get("project", {})
    if "name" not in project:
        raise NotebookFormatError(
            "pyproject.toml has no [project] name: the Colab install line names the distribution it installs."
        )
    return {
        "distribution": project["name"],
        "repository": validate_repository(table["repository"]),
        "branch": table.get("branch", "main"),
        "package": table.get("package", "mitdeeplearning"),
        "version": read_version(root, pyproject),
    }


def install_spec(config):
    """What the Colab setup cell pip-installs: the package at the tag of its version."""
    return f"{config['distribution']} @ git+{config['repository']}@v{config['version']}"


_GITHUB_FILE_RE = re.compile(
    r"https://github\.com/(?P<repo>[A-Za-z0-9-]+/[A-Za-z0-9._-]+)/blob/(?P<branch>[A-Za-z0-9._/-]+?)/(?P<path>[^\s)\"'#?]+)"
)


def own_links(text, config, root):
    """``text`` with every GitHub link to a file of this checkout pointing at the configured
    repository and branch (links to other repositories, or to files this checkout lacks, stay)."""

    def fix(match):
        if not (pathlib.Path(root) / match["path"]).exists():
            return match[0]
        return f"{config['repository']}/blob/{config['branch']}/{match['path']}"

    return _GITHUB_FILE_RE.sub(fix, text)


def solution_notebooks(root):
    """Every solution notebook of the checkout, in lab order."""
    return sorted(pathlib.Path(root).glob(LAB_GLOB))


def student_path(solution):
    """``labN/solutions/X_Solution.ipynb`` -> ``labN/X.ipynb``."""
    solution = pathlib.Path(solution)
    if solution.parent.name != "solutions" or not solution.stem.endswith(SOLUTION_SUFFIX):
        raise NotebookFormatError(
            f"{solution} is not a solution notebook: expected labN/solutions/<Name>_Solution.ipynb"
        )
    return solution.parent.parent / (solution.stem[: -len(SOLUTION_SUFFIX)] + ".ipynb")


def solution_path(notebook):
    """The solution notebook behind ``notebook`` (which may itself be the solution)."""
    notebook = pathlib.Path(notebook)
    if notebook.parent.name == "solutions":
        return notebook
    return notebook.parent / "solutions" / (notebook.stem + SOLUTION_SUFFIX + ".ipynb")


# --------------------------------------------------------------------------------------------
# Generated cells: badges and Colab setup
# --------------------------------------------------------------------------------------------


def badge_markdown(config, relpath):
    repo = config["repository"]
    branch = config["branch"]
    github_path = repo.replace("https://github.com/", "")
    colab = f"https://colab.research.google.com/github/{github_path}/blob/{branch}/{relpath}"
    view = f"{repo}/blob/{branch}/{relpath}"
    return (
        "<table align=\"left\"><tr>\n"
        f"<td><a target=\"_blank\" href=\"{colab}\">"
        "<img src=\"https://www.tensorflow.org/images/colab_logo_32px.png\" />Run in Google Colab</a></td>\n"
        f"<td><a target=\"_blank\" href=\"{view}\">"
        "<img src=\"https://www.tensorflow.org/images/GitHub-Mark-32px.png\" />View source on GitHub</a></td>\n"
        "</tr></table>"
    )


def colab_setup_code(config):
    spec = install_spec(config)
    return (
        "# Colab only: install the course package (locally, `make lab` has already installed it).\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"{spec}\"], check=True)"
    )


def _has_tag(cell, tag):
    return tag in cell.get("metadata", {}).get("tags", [])


def _ensure_generated_cells(nb, config, relpath):
    """Rewrite (or insert) the badge and Colab-setup cells of a notebook in place."""
    badge = next((c for c in nb.cells if _has_tag(c, "badges")), None)
    if badge is None:
        badge = nbformat.v4.new_markdown_cell(metadata={"tags": ["badges"]})
        nb.cells.insert(0, badge)
    badge.source = badge_markdown(config, relpath)

    setup = next((c for c in nb.cells if _has_tag(c, "colab-setup")), None)
    if setup is None:
        setup = nbformat.v4.new_code_cell(metadata={"tags": ["colab-setup"]})
        position = nb.cells.index(badge) + 1
        if position < len(nb.cells) and nb.cells[position].cell_type == "markdown":
            position += 1  # after the title cell
        nb.cells.insert(position, setup)
    if setup.cell_type != "code":
        raise NotebookFormatError("The cell tagged 'colab-setup' must be a code cell.")
    setup.source = colab_setup_code(config)


# --------------------------------------------------------------------------------------------
# TODO regions
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Todo:
    number: int
    hint: str
    cell_index: int  # index in the solution notebook
    solution_lines: list  # the code between the markers
    stub_lines: list  # what replaces it in the student copy
    after: str  # the rest of the cell after the region (where its check may be)
    end_line: int = 0  # 0-based line of the region's END marker in its cell


def _hint_above(lines, begin):
    """The ``# TODO:`` comment block right above line ``begin``: (index of its first line, hint)."""
    j = begin - 1
    block = []
    while j >= 0 and lines[j].strip().startswith("#") and lines[j].strip() not in (BEGIN, END):
        block.insert(0, j)
        j -= 1
    for pos, k in enumerate(block):
        match = _TODO_RE.match(lines[k])
        if match:
            parts = [match["hint"].strip()]
            parts += [lines[m].strip().lstrip("#").strip() for m in block[pos + 1 :]]
            return k, " ".join(p for p in parts if p)
    return None, None


def _hint_inside(lines, begin, end):
    for k in range(begin + 1, end):
        match = _TODO_RE.match(lines[k])
        if match:
            parts = [match["hint"].strip()]
            m = k + 1
            while m < end and lines[m].strip().startswith("#") and not _TODO_RE.match(lines[m]):
                parts.append(lines[m].strip().lstrip("#").strip())
                m += 1
            return k, " ".join(p for p in parts if p)
    return None, None


STUB_WIDTH = 100  # stub lines wrap here, so that a hint never runs off the right edge of the page


def _stub(indent, number, hint):
    """``raise NotImplementedError("TODO n: hint")``, the message split over lines of <= STUB_WIDTH."""
    message = f"TODO {number}: {hint}"
    line = f"{indent}raise NotImplementedError({message!r})"
    if len(line) <= STUB_WIDTH:
        return [line]
    width = STUB_WIDTH - len(indent) - 4 - 3  # inner indent, quotes, the space kept at the end
    chunks, current = [], ""
    for word in message.split(" "):
        if current and len(current) + 1 + len(word) > width:
            chunks.append(current + " ")
            current = word
        else:
            current = f"{current} {word}" if current else word
    chunks.append(current)
    assert "".join(chunks) == message
    return [f"{indent}raise NotImplementedError("] + [f"{indent}    {c!r}" for c in chunks] + [f"{indent})"]


def marker_problems(source, cell_index, where):
    """Lines of a cell that look like a solution marker or a TODO but would not act as one.

    A marker typo (``## BEGIN SOLUTION``, ``### begin solution``, ``### BEGIN SOLUTIONS``, text
    after the marker) is not a marker, so the answer under it would be copied to the student as
    ordinary code: each such line is a problem, named by notebook, cell and line.
    """
    problems = []
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if _MARKER_LIKE_RE.match(line) and stripped not in (BEGIN, END):
            exact = BEGIN if "BEGIN" in stripped.upper() else END
            problems.append(
                f"{where}, {_cell(cell_index)}, line {number}: {stripped!r} looks like a solution marker but "
                f"is not one, so the code under it would reach students; write exactly {exact!r} on its own line"
            )
    return problems


def transform_cell(source, first_number, cell_index, where):
    """Process the TODO regions of one cell.

    Returns ``(solution_source, student_source, todos)``: the solution with its TODO comments
    renumbered, the student version with regions replaced by stubs, and the regions found.
    Raises :class:`NotebookFormatError` for a look-alike marker, an unbalanced marker, a region
    without hint, or a ``# TODO`` comment that sits on no region.
    """
    problems = marker_problems(source, cell_index, where)
    if problems:
        raise NotebookFormatError("\n".join(problems), problems)
    lines = source.split("\n")
    solution = list(lines)
    student = []
    todos = []
    hint_lines = set()  # lines that are part of a region's hint
    i = 0
    number = first_number
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == END:
            raise NotebookFormatError(f"{where}, {_cell(cell_index)}, line {i + 1}: '{END}' without '{BEGIN}'.")
        if stripped != BEGIN:
            student.append(lines[i])
            i += 1
            continue
        begin = i
        end = next((k for k in range(begin + 1, len(lines)) if lines[k].strip() in (BEGIN, END)), None)
        if end is None or lines[end].strip() != END:
            raise NotebookFormatError(
                f"{where}, {_cell(cell_index)}, line {begin + 1}: '{BEGIN}' has no matching '{END}'."
            )
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        hint_line, hint = _hint_above(lines, begin)
        inside = False
        if hint_line is None:
            hint_line, hint = _hint_inside(lines, begin, end)
            inside = True
        if hint_line is None or not hint:
            raise NotebookFormatError(
                f"{where}, {_cell(cell_index)}, line {begin + 1}: the TODO region has no '# TODO: <hint>' "
                "comment right above it (or on its first lines). Write one: it becomes the student's "
                "instruction and the NotImplementedError message."
            )
        hint_lines.update(range(hint_line, begin if not inside else end))
        renumbered = _TODO_RE.sub(lambda m: f"{m['indent']}# TODO {number}: {m['hint'].strip()}", lines[hint_line])
        solution[hint_line] = renumbered
        if not inside:  # the hint is already in the student copy, just above: renumber it there
            student[len(student) - (begin - hint_line)] = renumbered
        stub = _stub(indent, number, hint)
        if inside:
            # keep the hint comment block for the student, then the stub
            comment_end = hint_line + 1
            while comment_end < end and lines[comment_end].strip().startswith("#"):
                comment_end += 1
            student.extend([renumbered] + lines[hint_line + 1 : comment_end])
        student.extend(stub)
        todos.append(Todo(number, hint, cell_index, lines[begin + 1 : end], stub, "\n".join(lines[end + 1 :]), end))
        number += 1
        i = end + 1
    in_region = False
    for k, line in enumerate(lines):
        in_region = (in_region or line.strip() == BEGIN) and line.strip() != END
        if _TODO_LIKE_RE.match(line) and not in_region and k not in hint_lines:
            problems.append(
                f"{where}, {_cell(cell_index)}, line {k + 1}: {line.strip()[:60]!r} is a TODO comment with no "
                f"'{BEGIN}' / '{END}' region under it, so the code after it reaches students as written; put "
                "the answer between the markers, or reword the comment if it is not an exercise"
            )
    if problems:
        raise NotebookFormatError("\n".join(problems), problems)
    return "\n".join(solution), "\n".join(student), todos


def given_lines(student_nb):
    """The stripped lines of a student notebook's code cells: the code the solution gives outright."""
    return {line.strip() for c in student_nb.cells if c.cell_type == "code" for line in c.source.split("\n")}


def leak_report(todos, student_nb, where, given, min_length=16):
    """Solution lines of the TODO regions that appear verbatim in a student notebook: ``(problems, notes)``.

    A line counts when it has at least ``min_length`` characters (shorter ones, like ``return x``,
    are too common to mean anything) and is not a comment. Code cells are compared line by line,
    markdown cells by substring (an answer quoted in an explanation). A line that the solution
    also writes outside every region, in code (``given``), is the instructor's choice and only a
    note; any other is a leak: a problem.
    """
    problems, notes = [], []
    for todo in todos:
        for line in todo.solution_lines:
            text = line.strip()
            if len(text) < min_length or text.startswith("#"):
                continue
            for index, cell in enumerate(student_nb.cells):
                found = (text in (s.strip() for s in cell.source.split("\n")) if cell.cell_type == "code"
                         else text in cell.source)
                if not found:
                    continue
                if text in given:
                    notes.append(f"{where}, {_cell(index)}: shows {text[:60]!r}, part of the answer to "
                                 f"TODO {todo.number}, as given code")
                else:
                    problems.append(
                        f"{where}, {_cell(index)}: shows the answer to TODO {todo.number} verbatim "
                        f"({text[:60]!r}); remove it there (in the solution, if it is a markdown cell)"
                    )
                break
    return problems, notes


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _clean(nb, keep_outputs=False):
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in _ALLOWED_NB_METADATA}
    nb.metadata.update(kernelspec=dict(KERNELSPEC), language_info=dict(LANGUAGE_INFO))
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in _ALLOWED_CELL_METADATA and k != "id"}
        if cell.cell_type == "code":
            if not keep_outputs:
                cell.outputs = []
            cell.execution_count = None
    return nb


def _relpath(path, root):
    return pathlib.Path(path).resolve().relative_to(pathlib.Path(root).resolve()).as_posix()


def read_notebook(source, where=None):
    """A notebook (nbformat v4) from a path or from its text, checked against nbformat's schema.

    Raises :class:`NotebookFormatError` naming the notebook (``where``, else the path) for a file
    that is not JSON, not a notebook, or does not fit the schema; nbformat's own errors (a raw
    ``TypeError`` for a valid-JSON file of the wrong shape) never reach the user.
    """
    where = where or str(source)
    try:
        text = source.read_text(encoding="utf-8") if isinstance(source, pathlib.Path) else source
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookFormatError(f"{where}: cannot be read ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, TypeError, KeyError...
        detail = " ".join(str(exc).split())[:200]
        raise NotebookFormatError(
            f"{where}: not a valid Jupyter notebook ({type(exc).__name__}: {detail}); restore it from "
            f"git or re-save it from Jupyter"
        ) from exc
    return nb


def build_pair(solution_file, root, config=None):
    """Return ``(solution_nb, student_nb, todos)`` as ``build`` would write them (nothing is written)."""
    config = config or load_config(root)
    solution_file = pathlib.Path(solution_file)
    where = _relpath(solution_file, root)
    solution = read_notebook(solution_file, where)
    _clean(solution, keep_outputs=True)
    _ensure_generated_cells(solution, config, where)

    student = copy.deepcopy(solution)
    student_cells = []
    todos = []
    problems = []
    for index, cell in enumerate(solution.cells):
        if _has_tag(cell, "solution-only"):
            continue
        twin = student.cells[index]
        if cell.cell_type == "code":
            try:
                sol_src, stu_src, found = transform_cell(cell.source, len(todos) + 1, index, where)
            except NotebookFormatError as exc:
                problems += exc.problems
                continue
            cell.source = sol_src
            twin.source = stu_src
            todos.extend(found)
        else:
            lookalikes = marker_problems(cell.source, index, where)
            problems += lookalikes
            if not lookalikes and (BEGIN in cell.source or END in cell.source):
                problems.append(f"{where}, {_cell(index)}: TODO markers belong in code cells, not {cell.cell_type}.")
            cell.source = twin.source = own_links(cell.source, config, root)
        student_cells.append(twin)
    if problems:
        raise NotebookFormatError("\n".join(problems), problems)
    student.cells = student_cells
    student_where = _relpath(student_path(solution_file), root)
    _ensure_generated_cells(student, config, student_where)
    _clean(student)
    leaks, _ = leak_report(todos, student, student_where, given_lines(student))
    if leaks:
        raise NotebookFormatError("\n".join(leaks), leaks)
    for nb in (solution, student):
        nbformat.validator.normalize(nb)
    return solution, student, todos


def _dumps(nb):
    # drop cell ids: they churn and Colab does not need them
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _strip_ids(nb):
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


def render_pair(solution_file, root, config=None):
    """The exact text ``build`` writes: ``(solution_text, student_text, todos)``."""
    solution, student, todos = build_pair(solution_file, root, config)
    return _dumps(_strip_ids(solution)), _dumps(_strip_ids(student)), todos


def build(notebooks=None, root=None, log=print, normalize=False):
    """Regenerate the student copies from their solutions. Returns the files written.

    The solutions are the instructor's source and stay byte-identical, unless ``normalize`` is
    set: then they are rewritten in the canonical form too (TODO numbers, badges, metadata), which
    is the form ``check`` expects of a committed solution (``check`` also refuses saved outputs).
    """
    root = find_root(root)
    config = load_config(root)
    targets = [solution_path(n) for n in notebooks] if notebooks else solution_notebooks(root)
    written = []
    for solution_file in targets:
        solution_text, student_text, todos = render_pair(solution_file, root, config)
        pairs = [(student_path(solution_file), student_text)]
        if normalize:
            pairs.insert(0, (solution_file, solution_text))
        elif pathlib.Path(solution_file).read_text(encoding="utf-8") != solution_text:
            log(f"note: {_relpath(solution_file, root)} is not in canonical form (TODO numbers, badges or "
                "metadata); `mitdeeplearning build --normalize` rewrites it")
        for path, text in pairs:
            path = pathlib.Path(path)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                written.append(path)
        log(f"built {_relpath(student_path(solution_file), root)} ({len(todos)} TODOs)")
    if not targets:
        log("no solution notebooks found (expected lab*/solutions/*_Solution.ipynb)")
    return written


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------


def _parse_cell(source):
    """The cell's code as an ast (IPython magics allowed); raises SyntaxError."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def _parses(source):
    """None if the cell's code parses (IPython magics allowed), else the SyntaxError text."""
    try:
        _parse_cell(source)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


def _outputs_problems(nb, where):
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: {_cell(index)} has saved outputs or an execution count "
                            "(clear them: Edit → Clear Outputs of All Cells in Jupyter, then save)")
    return problems


def check_calls(tree, after_line=0):
    """``(lab, name, line)`` of every call ``mdl.labN.check_*(…)`` / ``mdl.labN.test_*(…)`` in ``tree``
    on a line after ``after_line`` (1-based). Real calls only: a comment or a string never counts."""
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        lab = node.func.value
        if (isinstance(lab, ast.Attribute) and re.fullmatch(r"lab\d+", lab.attr)
                and isinstance(lab.value, ast.Name) and lab.value.id == "mdl"
                and _CHECK_NAME_RE.match(node.func.attr) and node.lineno > after_line):
            calls.append((lab.attr, node.func.attr, node.lineno))
    return sorted(calls, key=lambda c: c[2])


def public_names(root, package, lab):
    """Public names of ``<package>/<lab>.py`` (functions, classes, assignments, imports), read by
    parsing the file, so nothing is imported. None when the module does not exist."""
    path = pathlib.Path(root) / package / f"{lab}.py"
    if not path.is_file():
        return None
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return {n for n in names if not n.startswith("_")}


def _has_assert(tree):
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def find_checks(solution, todos, where, root, config):
    """``({todo number: check name}, problems)``: the check after each TODO, found by parsing.

    A check is a real call to a public ``mdl.labN.check_*`` / ``test_*`` that the checkout's
    package defines, after the region in the same cell or in the next code cell. A next code cell
    tagged ``own-check`` that asserts something stands in for it (the instructor's own check).
    """
    found, problems = {}, []
    code_cells = [i for i, c in enumerate(solution.cells) if c.cell_type == "code"]
    for todo in todos:
        candidates = [(solution.cells[todo.cell_index], todo.end_line + 1)]
        candidates += [(solution.cells[i], 0) for i in code_cells if i > todo.cell_index][:1]
        calls, own = [], False
        for cell, after in candidates:
            try:
                tree = _parse_cell(cell.source)
            except SyntaxError:
                continue  # reported as a cell that does not parse
            calls += check_calls(tree, after)
            own = own or (after == 0 and _has_assert(tree) and _has_tag(cell, OWN_CHECK_TAG))
        label = f"{where}: TODO {todo.number} ({_cell(todo.cell_index)})"
        for lab, name, _ in calls:
            names = public_names(root, config["package"], lab)
            if names is None:
                problems.append(f"{label} calls mdl.{lab}.{name}, but there is no module "
                                f"{config['package']}/{lab}.py in this checkout")
            elif name not in names:
                problems.append(f"{label} calls mdl.{lab}.{name}, which {config['package']}/{lab}.py does not "
                                f"define; write the check there (see docs/AUTHORING.md, Checks)")
            else:
                found.setdefault(todo.number, f"mdl.{lab}.{name}")
        if not calls and not own:
            problems.append(
                f"{label} has no check after it: call mdl.labN.check_<thing>(…), a public function of "
                f"{config['package']}/labN.py, after the region in the same or the next code cell; or, "
                f"for a check of your own, put an assert in the next code cell and tag it {OWN_CHECK_TAG!r}"
            )
        elif own and not calls:
            found[todo.number] = OWN_CHECK_TAG
    return found, problems


def catalogue_counts(root, lab):
    """``{"P.T": (wrong, valid)}`` of ``tests/test_catalogue_<lab>.py``; None without that file.

    The catalogues build many entries in loops, so reading the file would miscount: the entries
    are counted from pytest's own collection (their ids read ``TODO P.T: wrong: …``), which imports
    the lab module and takes some seconds, hence ``check --catalogue`` only.
    """
    import subprocess
    import sys

    path = pathlib.Path(root) / "tests" / f"test_catalogue_{lab}.py"
    if not path.is_file():
        return None
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(path)],
                          cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"pytest could not collect {_relpath(path, root)} (exit {done.returncode}):\n{tail}")
    counts = {}
    for todo, kind in re.findall(r"\[TODO (\d+\.\d+): (wrong|valid):", done.stdout):
        wrong, valid = counts.get(todo, (0, 0))
        counts[todo] = (wrong + 1, valid) if kind == "wrong" else (wrong, valid + 1)
    return counts


def part_number(solution_file):
    """The part of a lab a notebook is, as catalogue ids count it: ``Part2_…`` is 2, a lone notebook 1."""
    match = re.match(r"Part(\d+)_", pathlib.Path(solution_file).name)
    return int(match[1]) if match else 1


def _profile_problems(nb, where):
    """Profiles that are not in PROFILES, or that override a name the parameters cell does not set."""
    cell = next((c for c in nb.cells if _has_tag(c, "parameters")), None)
    if cell is None:
        return [f"{where}: no code cell tagged 'parameters'"]
    try:
        tree = _parse_cell(cell.source)
    except SyntaxError:
        return []  # reported as a cell that does not parse
    names = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    problems = []
    for profile, overrides in cell.metadata.get("mdl", {}).get("profiles", {}).items():
        if profile not in PROFILES:
            problems.append(f"{where}: the parameters cell has a profile {profile!r}; the profiles are {', '.join(PROFILES)}")
        unknown = sorted(set(overrides) - names)
        if unknown:
            problems.append(f"{where}: profile {profile!r} overrides {', '.join(unknown)}, which the parameters cell "
                            "does not set (a typo, or a knob to add there)")
    return problems


_TODO_REF_RE = re.compile(r"\bTODO (\d+)\b(?!\.\d)")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?=\()|\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+")


def todo_reference_problems(root, config, todo_cells):
    """Stale "TODO n" text outside the TODO itself: in the package, the README and docs, and the
    notebooks' markdown.

    ``todo_cells`` lists ``(lab, notebook, number, solution cell source)`` of every TODO. A
    reference is stale when ``n`` exceeds the TODOs there are, or when the code names on its line
    (``frame_change(``, ``get_batch``) are found in the cells of other TODOs but not in TODO n's.
    A line that names no code is judged by its number alone.
    """
    import builtins

    common = set(dir(builtins)) | {"TODO"}

    def judge(text, lab, notebook, label):
        scope = [t for t in todo_cells if (lab is None or t[0] == lab) and (notebook is None or t[1] == notebook)]
        if not scope:
            return []
        found = []
        for number in sorted(set(map(int, _TODO_REF_RE.findall(text)))):
            names = {n for n in _IDENTIFIER_RE.findall(text) if len(n) >= 4 and n not in common}
            here = [t for t in scope if t[2] == number]
            if not here:
                found.append(f"{label}: says TODO {number}, but {notebook or lab or 'no notebook'} has "
                             f"{max(t[2] for t in scope)} TODOs (renumbered?)")
                continue
            if not names or any(n in t[3] for t in here for n in names):
                continue
            elsewhere = sorted({t[2] for t in scope for n in names if n in t[3]})
            if elsewhere:
                found.append(f"{label}: says TODO {number}, but {', '.join(sorted(names))} belongs to TODO "
                             f"{', '.join(map(str, elsewhere))} (renumbered?)")
        return found

    problems = []
    sources = sorted((pathlib.Path(root) / config["package"]).glob("*.py")) + doc_files(root)
    for path in sources:
        match = re.fullmatch(r"(lab\d+)\.py", path.name)
        lab = match[1] if match else (path.parent.name if path.name == "README.md" and path.parent.name.startswith("lab") else None)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _TODO_REF_RE.search(line) and not _TODO_RE.match(line):
                problems += judge(line, lab, None, f"{_relpath(path, root)}, line {number}")
    for notebook in sorted({t[1] for t in todo_cells}):
        nb = read_notebook(pathlib.Path(root) / notebook, notebook)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                for number, line in enumerate(cell.source.split("\n"), 1):
                    if _TODO_REF_RE.search(line):
                        problems += judge(line, None, notebook, f"{notebook}, {_cell(index)}, line {number}")
    return problems


def version_problems(root, config):
    """The instructor tooling's own version, where the checkout has it, must be the package's."""
    tools = pathlib.Path(root) / "mdl_tools" / "pyproject.toml"
    if not tools.is_file():
        return []
    with open(tools, "rb") as fh:
        version = tomllib.load(fh).get("project", {}).get("version")
    if version != config["version"]:
        return [f"mdl_tools/pyproject.toml: version {version!r}, but the package is {config['version']!r}; "
                "mitdeeplearning release keeps them equal"]
    return []


def check(root=None):
    """Every problem with the checkout's notebooks, as a list of one-line messages (empty = clean).

    Cells are numbered as :data:`CELL_CONVENTION` says.
    """
    root = find_root(root)
    config = load_config(root)
    problems = version_problems(root, config)
    todo_cells = []  # (lab, notebook, TODO number, solution cell) for the stale-reference check
    solutions = solution_notebooks(root)
    for solution_file in solutions:
        where = _relpath(solution_file, root)
        try:
            solution_text, student_text, todos = render_pair(solution_file, root, config)
        except NotebookFormatError as exc:
            problems += exc.problems
            continue
        committed_solution = solution_file.read_text(encoding="utf-8")
        problems += _outputs_problems(read_notebook(committed_solution, where), where)
        if committed_solution != solution_text:
            problems.append(f"{where}: not normalised (TODO numbers, badges, links or metadata); "
                            "run mitdeeplearning build --normalize")
        student_file = student_path(solution_file)
        student_where = _relpath(student_file, root)
        student = nbformat.reads(student_text, as_version=4)
        if not student_file.exists():
            problems.append(f"{student_where}: missing; run mitdeeplearning build")
        else:
            committed_student = student_file.read_text(encoding="utf-8")
            try:
                committed = read_notebook(committed_student, student_where)
                problems += _outputs_problems(committed, student_where)
                problems += leak_report(todos, committed, student_where, given_lines(student))[0]
            except NotebookFormatError as exc:  # unreadable: build will rewrite it; keep checking
                problems.append(f"{exc}; run mitdeeplearning build")
            if committed_student != student_text:
                problems.append(
                    f"{student_where}: differs from what build generates from {where}. Student copies are "
                    f"generated: move the edit into the solution, then run mitdeeplearning build (which "
                    f"overwrites the student copy); see it with mitdeeplearning diff --drift {student_where}"
                )
        for index, cell in enumerate(student.cells):
            if cell.cell_type == "code":
                error = _parses(cell.source)
                if error:
                    problems.append(f"{student_where}: {_cell(index)} does not parse ({error})")
        solution = nbformat.reads(solution_text, as_version=4)
        todo_cells += [(solution_file.parent.parent.name, where, t.number, solution.cells[t.cell_index].source)
                       for t in todos]
        problems += find_checks(solution, todos, where, root, config)[1]
        problems += _profile_problems(solution, where)
        for index, cell in enumerate(student.cells):  # what students read must fit the page
            for number, line in enumerate(cell.source.split("\n") if cell.cell_type == "code" else [], 1):
                if len(line) > STUB_WIDTH and ("TODO" in line or "NotImplementedError" in line):
                    problems.append(f"{student_where}: {_cell(index)}, line {number}: a TODO line of {len(line)} "
                                    f"characters; wrap the hint in the solution at {STUB_WIDTH}")
    problems += doc_problems(root, config)
    problems += todo_reference_problems(root, config, todo_cells)
    # student notebooks without a solution
    for notebook in sorted(pathlib.Path(root).glob("lab*/*.ipynb")):
        if not solution_path(notebook).exists():
            problems.append(f"{_relpath(notebook, root)}: has no solution notebook {_relpath(solution_path(notebook), root)}")
    return problems


def doc_files(root):
    """The prose files that may carry links to the course repository: README, docs/, lab READMEs."""
    root = pathlib.Path(root)
    return [p for p in [root / "README.md", *sorted(root.glob("docs/*.md")), *sorted(root.glob("lab*/README.md"))]
            if p.is_file()]


def doc_problems(root, config):
    """README / docs lines that install the package from elsewhere than the notebooks do, or link
    to a file of this checkout in another repository (both left behind by a fork or a release)."""
    expected = install_spec(config)
    install = re.compile(re.escape(config["distribution"]) + r" @ git\+\S+?@v[0-9][\w.]*[0-9]")
    problems = []
    for path in doc_files(root):
        rel = _relpath(path, root)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for found in install.findall(line):
                if found != expected:
                    problems.append(f"{rel}, line {number}: installs {found!r}, but the notebooks install "
                                    f"{expected!r}; mitdeeplearning fork / release rewrite it")
            if own_links(line, config, root) != line:
                problems.append(f"{rel}, line {number}: links to a file of this course in another repository "
                                f"than {config['repository']}; mitdeeplearning fork {config['repository']} rewrites it")
    return problems


# --------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------


def diff(notebook, root=None, drift=False):
    """``(text, drifted)`` for an instructor: per TODO, the solution code against the student stub.

    With ``drift=True``: the committed student copy against what ``build`` would generate, and
    ``drifted`` says whether they differ (``mitdeeplearning diff --drift`` then exits 1).
    """
    root = find_root(root)
    solution_file = solution_path(notebook)
    solution_text, student_text, todos = render_pair(solution_file, root)
    out = []
    if drift:
        student_file = student_path(solution_file)
        rel = _relpath(student_file, root)
        if not student_file.exists():
            return f"{rel} does not exist; mitdeeplearning build writes it.", True
        committed = read_notebook(student_file, rel)
        expected = nbformat.reads(student_text, as_version=4)
        for index in range(max(len(committed.cells), len(expected.cells))):
            a = committed.cells[index].source if index < len(committed.cells) else ""
            b = expected.cells[index].source if index < len(expected.cells) else ""
            if a != b:
                out += difflib.unified_diff(
                    a.splitlines(), b.splitlines(), f"{rel} {_cell(index)} (committed)",
                    f"{rel} {_cell(index)} (generated)", lineterm="",
                )
        if not out and student_file.read_text(encoding="utf-8") != student_text:
            out.append(f"{rel}: the cell sources match, but outputs or metadata differ from what build generates")
        if out:
            out.append(f"({CELL_CONVENTION}.) The student copy is generated: move the edit into "
                       f"{_relpath(solution_file, root)}, then run mitdeeplearning build.")
            return "\n".join(out), True
        return f"{rel} matches what build generates.", False
    for todo in todos:
        out.append(f"== TODO {todo.number} ({_cell(todo.cell_index)}): {todo.hint}")
        out += difflib.unified_diff(
            [line.rstrip() for line in todo.solution_lines], todo.stub_lines,
            "solution", "student", lineterm="", n=len(todo.solution_lines),
        )
        out.append("")
    if not todos:
        out.append(f"{_relpath(solution_file, root)} has no TODO regions.")
    return "\n".join(out), False


# --------------------------------------------------------------------------------------------
# Warnings: what Colab installs, and the mistake catalogues
# --------------------------------------------------------------------------------------------


def _git(root, *args):
    import subprocess

    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def release_warnings(root, config):
    """Whether the tag the notebooks install exists here, and whether the package changed since it."""
    tag = f"v{config['version']}"
    if _git(root, "rev-parse", "--git-dir").returncode != 0:
        return [f"not a git repository: cannot tell whether tag {tag}, which the Colab setup cells install, exists"]
    if _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode != 0:
        return [f"the notebooks install {install_spec(config)}, but there is no tag {tag} here: the Colab setup "
                f"cell fails until it exists on GitHub (after committing: git tag {tag} && git push origin {tag})"]
    changed = _git(root, "diff", "--name-only", tag, "--", config["package"]).stdout.split()
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        return [f"{config['package']} changed since {tag}, which Colab installs ({shown}): students get the change "
                f"only from a new release (mitdeeplearning release X.Y.Z, then push its tag)"]
    return []


def catalogue_report(root, config):
    """``(lines, warnings)``: per notebook, the mistake-catalogue entries of each TODO."""
    lines, warnings = [], []
    for solution_file in solution_notebooks(root):
        where = _relpath(solution_file, root)
        lab = solution_file.parent.parent.name
        try:
            _, _, todos = render_pair(solution_file, root, config)
        except NotebookFormatError:
            continue  # check reports it
        counts = catalogue_counts(root, lab)
        if counts is None:
            if todos:
                warnings.append(f"{where}: its {len(todos)} TODOs have no mistake catalogue "
                                f"(tests/test_catalogue_{lab}.py; see docs/AUTHORING.md)")
            continue
        part = part_number(solution_file)
        cells = []
        for todo in todos:
            wrong, valid = counts.get(f"{part}.{todo.number}", (0, 0))
            cells.append(f"{todo.number}: {wrong}/{valid}")
            if wrong < 6 or valid < 2:
                warnings.append(f"{where}: TODO {todo.number} has {wrong} wrong and {valid} valid catalogue entries "
                                f"(id \"{part}.{todo.number}\" in tests/test_catalogue_{lab}.py); at least 6 and 2")
        stale = sorted(k for k in counts if k.startswith(f"{part}.") and int(k.split(".")[1]) > len(todos))
        if stale:
            warnings.append(f"tests/test_catalogue_{lab}.py: entries for TODO {', '.join(stale)}, but {where} has "
                            f"{len(todos)} TODOs (renumbered?)")
        if cells:
            lines.append(f"{where}: catalogue entries (wrong/valid) per TODO: {', '.join(cells)}")
    return lines, warnings


def given_answers(root, config):
    """Notes on answers that a student copy shows as given code (see :func:`leak_report`)."""
    notes = []
    for solution_file in solution_notebooks(root):
        try:
            _, student_text, todos = render_pair(solution_file, root, config)
        except NotebookFormatError:
            continue  # check reports it
        student = nbformat.reads(student_text, as_version=4)
        notes += leak_report(todos, student, _relpath(student_path(solution_file), root), given_lines(student))[1]
    return notes


def warnings(root=None, catalogue=False):
    """Things to know that do not make ``check`` fail: ``(info_lines, warnings)``. With
    ``catalogue``, also the mistake-catalogue entries per TODO (pytest collects them: seconds)."""
    root = find_root(root)
    config = load_config(root)
    info, warned = given_answers(root, config), release_warnings(root, config)
    if catalogue:
        lines, catalogue_warnings = catalogue_report(root, config)
        info, warned = info + lines, warned + catalogue_warnings
    return info, warned
