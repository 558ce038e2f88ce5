"""Read a submitted notebook: which lab notebook it is, the code inside each TODO region, what was
edited outside the regions, and whether an answer reaches outside what a TODO may touch.

Only the code inside the regions is ever run; everything else in a graded notebook is the
instructor's (see ``execute.py``).
"""

import ast
import dataclasses
import difflib
import json
import textwrap

import nbformat

from .. import notebooks as _notebooks

# ---------------------------------------------------------------------------------------------
# Lab templates
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Template:
    """One lab notebook as the grader knows it: the solution, the student copy generated from it
    by ``build``, its TODOs and the points of each."""

    name: str  # e.g. "lab1/Part1_TensorFlow.ipynb"
    solution_path: str
    solution: object  # nbformat notebook, canonical form
    student: object
    todos: list  # notebooks.Todo, numbered from 1
    points: dict  # TODO number -> points

    @property
    def max_points(self):
        return sum(self.points.values())


def cell_points(cell, count):
    """Points of the ``count`` TODO regions of a solution cell, from its metadata ``mdl.points``:
    a number (each region) or a list (one per region, in order); 1 each when absent."""
    value = cell.get("metadata", {}).get("mdl", {}).get("points", 1)
    values = value if isinstance(value, list) else [value] * count
    if len(values) != count or not all(isinstance(v, (int, float)) and v >= 0 for v in values):
        raise _notebooks.NotebookFormatError(
            f"cell {cell.get('id', '?')}: metadata mdl.points is {value!r}; write a number of points for "
            f"every TODO region of the cell, or a list of {count} numbers")
    return values


def load_template(solution_file, root):
    """The :class:`Template` of one solution notebook, generated as ``build`` does."""
    solution, student, todos = _notebooks.build_pair(solution_file, root)
    points = {}
    for index, cell in enumerate(solution.cells):
        numbers = [t.number for t in todos if t.cell_index == index]
        if numbers:
            points.update(zip(numbers, cell_points(cell, len(numbers))))
    name = _notebooks.student_path(solution_file).resolve().relative_to(root.resolve()).as_posix()
    return Template(name, str(solution_file), solution, student, todos, points)


# ---------------------------------------------------------------------------------------------
# Recognising a submission
# ---------------------------------------------------------------------------------------------


class SubmissionError(ValueError):
    """A submission that cannot be graded at all (not a notebook, no known lab); says why."""


def read_submission(path):
    """A submitted file as a notebook; :class:`SubmissionError` naming the file if it is not one."""
    try:
        raw = path.read_bytes()
        if len(raw) > 50 * 1024**2:
            raise SubmissionError(f"{path.name}: {len(raw) / 1024**2:.0f} MB is too large for a lab notebook")
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except SubmissionError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise SubmissionError(f"{path.name}: not a Jupyter notebook ({type(exc).__name__}); "
                              "ask for the .ipynb file (File → Download → .ipynb)") from exc
    except Exception as exc:  # nbformat reports malformed notebooks with several exception types
        raise SubmissionError(f"{path.name}: not a readable Jupyter notebook ({type(exc).__name__}: "
                              f"{str(exc)[:120]})") from exc
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name}: a JSON file without notebook cells")
    return nb


def _norm(source):
    source = "".join(source) if isinstance(source, list) else (source or "")
    return [line.rstrip() for line in source.strip().splitlines()]


def _code_cells(nb):
    return [c for c in nb.cells if c.get("cell_type") == "code"]


def recognise(nb, templates):
    """The template a submission was made from: the one most of whose cells it still contains."""
    cells = {"\n".join(_norm(c.source)) for c in _code_cells(nb)}
    best, best_score = None, 0.0
    for template in templates:
        own = ["\n".join(_norm(c.source)) for c in _code_cells(template.student) if c.source.strip()]
        score = sum(source in cells for source in own) / max(len(own), 1)
        if score > best_score:
            best, best_score = template, score
    if best is None or best_score < 0.3:
        names = ", ".join(t.name for t in templates)
        raise SubmissionError(f"not recognised as any of {names} (at most {best_score:.0%} of a notebook's "
                              "cells found); was it started from another notebook?")
    return best


# ---------------------------------------------------------------------------------------------
# Extracting the answers
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    number: int
    status: str  # "attempted", "not attempted" (the stub as generated, or nothing) or "missing" (no cell)
    code: list  # lines of the region as the student wrote them
    note: str = ""


def _stub_spans(lines, todos):
    """``(start, end, todo)`` of each stub inside a student cell's lines."""
    spans, start = [], 0
    for todo in todos:
        stub = [s.rstrip() for s in todo.stub_lines]
        for i in range(start, len(lines) - len(stub) + 1):
            if lines[i : i + len(stub)] == stub:
                spans.append((i, i + len(stub), todo))
                start = i + len(stub)
                break
        else:
            raise RuntimeError(f"TODO {todo.number}'s stub is not in its generated cell")
    return spans


def extract(nb, template):
    """``(answers, outside_edits)``: each TODO's region code, and one line per edit made outside them."""
    student_cells = template.student.cells
    by_cell = {}
    # todo.cell_index counts solution cells; find each TODO's cell in the student copy by its stub
    for todo in template.todos:
        index = next(i for i, c in enumerate(student_cells)
                     if c.cell_type == "code" and "\n".join(s.rstrip() for s in todo.stub_lines) in
                     "\n".join(_norm(c.source)))
        by_cell.setdefault(index, []).append(todo)
    submitted = [(_norm(c.source)) for c in _code_cells(nb)]
    used = set()
    answers, edits = {}, []
    plain = {}
    for i, cell in enumerate(student_cells):
        if cell.cell_type == "code" and i not in by_cell and cell.source.strip():
            plain[i] = _norm(cell.source)
    for k, lines in enumerate(submitted):  # untouched cells first, so that TODO cells match the rest
        if lines in plain.values() and k not in used:
            used.add(k)
    for index, todos in by_cell.items():
        template_lines = _norm(student_cells[index].source)
        spans = _stub_spans(template_lines, todos)
        in_stub = {i for s, e, _ in spans for i in range(s, e)}
        fixed = [line for i, line in enumerate(template_lines) if i not in in_stub]
        candidates = [(difflib.SequenceMatcher(None, fixed, lines, autojunk=False).ratio(), k)
                      for k, lines in enumerate(submitted) if k not in used]
        ratio, k = max(candidates, default=(0.0, None))
        if k is None or ratio < 0.5:
            for todo in todos:
                answers[todo.number] = Answer(todo.number, "missing", [], "its cell is not in the submission")
            continue
        used.add(k)
        lines = submitted[k]
        matcher = difflib.SequenceMatcher(None, template_lines, lines, autojunk=False)
        mapping = {}
        for a, b, size in matcher.get_matching_blocks():
            for d in range(size):
                if a + d not in in_stub:
                    mapping[a + d] = b + d
        windows = []
        for start, end, todo in spans:
            low = max((mapping[i] for i in mapping if i < start), default=-1)
            high = min((mapping[i] for i in mapping if i >= end), default=len(lines))
            code = lines[low + 1 : high]
            windows.append((low + 1, high))
            meaningful = [s for s in code if s.strip() and not s.strip().startswith("#")]
            stub = [s.rstrip() for s in todo.stub_lines]
            if not meaningful or meaningful == [s for s in stub if s.strip()]:
                answers[todo.number] = Answer(todo.number, "not attempted", code)
            else:
                answers[todo.number] = Answer(todo.number, "attempted", code)
        for i, line in enumerate(template_lines):
            if i not in in_stub and i not in mapping and line.strip():
                edits.append(f"TODO cell ({_todo_names(todos)}): instructor line changed or removed: "
                             f"{line.strip()[:80]!r}")
        inside = {j for lo, hi in windows for j in range(lo, hi)}
        for j, line in enumerate(lines):
            if j not in inside and j not in mapping.values() and line.strip():
                edits.append(f"TODO cell ({_todo_names(todos)}): line added outside the region: {line.strip()[:80]!r}")
    submitted_sources = ["\n".join(s) for s in submitted]
    for i, lines in plain.items():
        if "\n".join(lines) in submitted_sources:
            continue
        ratio, k = max(((difflib.SequenceMatcher(None, lines, other, autojunk=False).ratio(), k)
                        for k, other in enumerate(submitted) if k not in used), default=(0.0, None))
        if k is not None and ratio >= 0.6:
            used.add(k)
            changed = next((line for line in submitted[k] if line not in lines), "(lines removed)")
            edits.append(f"cell {i + 1} edited: {changed.strip()[:80]!r}")
        else:
            edits.append(f"cell {i + 1} removed: {(lines or [''])[0][:80]!r}")
    for k, lines in enumerate(submitted):
        if k not in used and any(s.strip() for s in lines):
            edits.append(f"cell added: {next(s for s in lines if s.strip())[:80]!r}")
    return answers, edits


def _todo_names(todos):
    return ", ".join(f"TODO {t.number}" for t in todos)


# ---------------------------------------------------------------------------------------------
# Screening an answer
# ---------------------------------------------------------------------------------------------

# What a TODO answer may import; anything else (os, sys, socket, subprocess, ctypes …) is refused.
ALLOWED_IMPORTS = {
    "numpy", "tensorflow", "keras", "math", "random", "functools", "itertools", "collections",
    "operator", "string", "re", "typing", "dataclasses", "statistics", "time", "matplotlib", "tqdm",
}
# Names an answer has no business with: the interpreter's escape hatches and the modules the setup
# cells import. (``mdl`` itself may be read: answers call its helpers, e.g. mdl.lab3.preprocess_frame;
# its checks, assignments into it and importing it under another name are refused.)
_GRADING_NAMES = {"mdl", "mitdeeplearning"}
_ESCAPES = {
    "eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "breakpoint", "input", "exit", "quit", "help", "memoryview",
    "get_ipython", "In", "Out", "_ih", "_oh", "_dh", "sys", "os", "subprocess", "shutil",
    "socket", "signal", "ctypes", "gc", "inspect", "importlib", "builtins", "pathlib", "io",
    "SystemExit", "KeyboardInterrupt", "GeneratorExit",
}
# Attributes that lead out of the lab's objects: frames, the interpreter, C libraries, compilers.
_FRAME_ATTRS = {"f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
                "ag_frame", "modules", "ctypes", "ctypeslib", "f2py", "distutils", "load_library",
                "load_op_library", "system", "popen", "exec_command", "sys", "os", "subprocess", "builtins"}
_ALLOWED_DUNDERS = {"__init__", "__call__"}
# Modules the notebooks bind to these names: assigning into them patches them for everyone.
MODULE_NAMES = {"tf", "np", "keras", "plt", "mdl", "tensorflow", "numpy", "matplotlib", "mitdeeplearning", "math"}


@dataclasses.dataclass
class Screening:
    verdict: str  # "ok", "refused" (reaches outside what a TODO may use) or "tamper" (evident attempt on the grading)
    reason: str = ""


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def screen(code_lines):
    """Judge an answer's code before it runs; see docs/GRADING.md for what this does and does not stop."""
    source = textwrap.dedent("\n".join(code_lines))
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as exc:
        return Screening("syntax", f"SyntaxError: {exc.msg} (line {exc.lineno} of the answer)")
    tamper, refused = [], []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or "."]
            for name in names:
                top = name.split(".")[0]
                (tamper if top in _GRADING_NAMES else refused if top not in ALLOWED_IMPORTS else []).append(
                    f"imports {name}")
        elif isinstance(node, ast.Name):
            if node.id == "mitdeeplearning" or node.id.startswith("__"):
                tamper.append(f"uses {node.id}")
            elif node.id in _ESCAPES:
                (tamper if node.id in {"get_ipython", "In", "Out", "_ih", "_oh"} else refused).append(f"uses {node.id}")
            elif isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in MODULE_NAMES:
                tamper.append(f"rebinds {node.id}")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr not in _ALLOWED_DUNDERS:
                tamper.append(f"uses .{node.attr}")
            elif node.attr in _FRAME_ATTRS or node.attr == "checks" or node.attr.startswith(("check_", "test_")):
                tamper.append(f"uses .{node.attr}")
            elif isinstance(node.ctx, (ast.Store, ast.Del)) and _root_name(node) in MODULE_NAMES:
                tamper.append(f"patches {_root_name(node)}.…{node.attr}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                if name in MODULE_NAMES or name in _GRADING_NAMES or name.startswith("__"):
                    tamper.append(f"declares global {name}")
    if tamper:
        return Screening("tamper", "; ".join(dict.fromkeys(tamper)))
    if refused:
        return Screening("refused", "; ".join(dict.fromkeys(refused)))
    return Screening("ok")
