"""Instructor tooling: generate student notebooks from solutions, and check that nothing drifted.

A solution notebook (``labN/solutions/<Name>_Solution.ipynb``) is the single source. Code that
students write sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, under a ``# TODO:``
hint comment. :func:`build_student` replaces each region by a stub raising
``NotImplementedError("TODO <n>: <hint>")``. See ``docs/AUTHORING.md`` for the whole format.

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
_CHECK_CALL_RE = re.compile(r"\bmdl\.lab\d\.(?:check_\w+|test_\w+)\s*\(")
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
    """A solution notebook breaks the authoring format; the message names the cell and the fix."""


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


def load_config(root):
    """The ``[tool.mitdeeplearning]`` table of ``pyproject.toml`` (repository URL, branch) with the
    distribution's name and version from ``[project]`` (the Colab cell installs it by that name)."""
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
        "repository": table["repository"].rstrip("/"),
        "branch": table.get("branch", "main"),
        "version": project.get("version", "0"),
    }


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
    spec = f"{config['distribution']} @ git+{config['repository']}@v{config['version']}"
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


def transform_cell(source, first_number, cell_index, where):
    """Process the TODO regions of one cell.

    Returns ``(solution_source, student_source, todos)``: the solution with its TODO comments
    renumbered, the student version with regions replaced by stubs, and the regions found.
    """
    lines = source.split("\n")
    solution = list(lines)
    student = []
    todos = []
    i = 0
    number = first_number
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == END:
            raise NotebookFormatError(f"{where}, cell {cell_index}: '{END}' without '{BEGIN}' (line {i + 1}).")
        if stripped != BEGIN:
            student.append(lines[i])
            i += 1
            continue
        begin = i
        end = next((k for k in range(begin + 1, len(lines)) if lines[k].strip() in (BEGIN, END)), None)
        if end is None or lines[end].strip() != END:
            raise NotebookFormatError(
                f"{where}, cell {cell_index}: '{BEGIN}' on line {begin + 1} has no matching '{END}'."
            )
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        hint_line, hint = _hint_above(lines, begin)
        inside = False
        if hint_line is None:
            hint_line, hint = _hint_inside(lines, begin, end)
            inside = True
        if hint_line is None or not hint:
            raise NotebookFormatError(
                f"{where}, cell {cell_index}: the TODO region on line {begin + 1} has no '# TODO: <hint>' "
                "comment right above it (or on its first lines). Write one: it becomes the student's "
                "instruction and the NotImplementedError message."
            )
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
        todos.append(Todo(number, hint, cell_index, lines[begin + 1 : end], stub, "\n".join(lines[end + 1 :])))
        number += 1
        i = end + 1
    return "\n".join(solution), "\n".join(student), todos


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
    for index, cell in enumerate(solution.cells):
        if _has_tag(cell, "solution-only"):
            continue
        twin = student.cells[index]
        if cell.cell_type == "code":
            sol_src, stu_src, found = transform_cell(cell.source, len(todos) + 1, index, where)
            cell.source = sol_src
            twin.source = stu_src
            todos.extend(found)
        elif BEGIN in cell.source or END in cell.source:
            raise NotebookFormatError(f"{where}, cell {index}: TODO markers belong in code cells, not {cell.cell_type}.")
        student_cells.append(twin)
    student.cells = student_cells
    _ensure_generated_cells(student, config, _relpath(student_path(solution_file), root))
    _clean(student)
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


def _parses(source):
    """None if the cell's code parses (IPython magics allowed), else the SyntaxError text."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


def _outputs_problems(nb, where):
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: cell {index} has saved outputs or an execution count "
                            "(clear them: Edit → Clear Outputs of All Cells in Jupyter, then save)")
    return problems


def _check_calls(solution, todos, where):
    """Each TODO needs an mdl.labN.check_*/test_* call after its region, in its cell or the next code cell."""
    problems = []
    code_cells = [i for i, c in enumerate(solution.cells) if c.cell_type == "code"]
    for todo in todos:
        following = [i for i in code_cells if i > todo.cell_index][:1]
        text = todo.after + "\n" + "".join(solution.cells[i].source for i in following)
        if not _CHECK_CALL_RE.search(text):
            problems.append(
                f"{where}: TODO {todo.number} (cell {todo.cell_index}) has no mdl.labN.check_…(…) call "
                "after it in the same or the next code cell"
            )
    return problems


def check(root=None):
    """Every problem with the checkout's notebooks, as a list of one-line messages (empty = clean)."""
    root = find_root(root)
    config = load_config(root)
    problems = []
    solutions = solution_notebooks(root)
    for solution_file in solutions:
        where = _relpath(solution_file, root)
        try:
            solution_text, student_text, todos = render_pair(solution_file, root, config)
        except NotebookFormatError as exc:
            problems.append(str(exc))
            continue
        committed_solution = solution_file.read_text(encoding="utf-8")
        problems += _outputs_problems(read_notebook(committed_solution, where), where)
        if committed_solution != solution_text:
            problems.append(f"{where}: not normalised (TODO numbers, badges or metadata); "
                            "run mitdeeplearning build --normalize")
        student_file = student_path(solution_file)
        student_where = _relpath(student_file, root)
        if not student_file.exists():
            problems.append(f"{student_where}: missing; run make build")
        else:
            committed_student = student_file.read_text(encoding="utf-8")
            try:
                problems += _outputs_problems(read_notebook(committed_student, student_where), student_where)
            except NotebookFormatError as exc:  # unreadable: build will rewrite it; keep checking
                problems.append(f"{exc}; run make build")
            if committed_student != student_text:
                problems.append(
                    f"{student_where}: differs from what build generates from {where} "
                    f"(see: mitdeeplearning diff --drift {student_where}); run make build"
                )
        student = nbformat.reads(student_text, as_version=4)
        for index, cell in enumerate(student.cells):
            if cell.cell_type == "code":
                error = _parses(cell.source)
                if error:
                    problems.append(f"{student_where}: cell {index} does not parse ({error})")
        problems += _check_calls(nbformat.reads(solution_text, as_version=4), todos, where)
        for index, cell in enumerate(student.cells):  # what students read must fit the page
            for number, line in enumerate(cell.source.split("\n") if cell.cell_type == "code" else [], 1):
                if len(line) > STUB_WIDTH and ("TODO" in line or "NotImplementedError" in line):
                    problems.append(f"{student_where}: cell {index}, line {number}: a TODO line of {len(line)} "
                                    f"characters; wrap the hint in the solution at {STUB_WIDTH}")
        if not any(_has_tag(c, "parameters") for c in student.cells):
            problems.append(f"{where}: no code cell tagged 'parameters'")
    # student notebooks without a solution
    for notebook in sorted(pathlib.Path(root).glob("lab*/*.ipynb")):
        if not solution_path(notebook).exists():
            problems.append(f"{_relpath(notebook, root)}: has no solution notebook {_relpath(solution_path(notebook), root)}")
    return problems


# --------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------


def diff(notebook, root=None, drift=False):
    """Text for an instructor: per TODO, the solution code against the student stub.

    With ``drift=True``: the committed student copy against what ``build`` would generate.
    """
    root = find_root(root)
    solution_file = solution_path(notebook)
    solution_text, student_text, todos = render_pair(solution_file, root)
    out = []
    if drift:
        student_file = student_path(solution_file)
        committed = nbformat.read(student_file, as_version=4)
        expected = nbformat.reads(student_text, as_version=4)
        rel = _relpath(student_file, root)
        for index in range(max(len(committed.cells), len(expected.cells))):
            a = committed.cells[index].source if index < len(committed.cells) else ""
            b = expected.cells[index].source if index < len(expected.cells) else ""
            if a != b:
                out += difflib.unified_diff(
                    a.splitlines(), b.splitlines(), f"{rel} cell {index} (committed)",
                    f"{rel} cell {index} (generated)", lineterm="",
                )
        return "\n".join(out) if out else f"{rel} matches what build generates."
    for todo in todos:
        out.append(f"== TODO {todo.number} (cell {todo.cell_index}): {todo.hint}")
        out += difflib.unified_diff(
            [line.rstrip() for line in todo.solution_lines], todo.stub_lines,
            "solution", "student", lineterm="", n=len(todo.solution_lines),
        )
        out.append("")
    if not todos:
        out.append(f"{_relpath(solution_file, root)} has no TODO regions.")
    return "\n".join(out)
