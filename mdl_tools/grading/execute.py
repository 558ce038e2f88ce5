"""Run one submission: the instructor's notebook with the student's answers in its TODO regions, in a
sandboxed kernel, recording each TODO's result from the grader's side.

How a result reaches the grader
-------------------------------
A printed ✔ proves nothing: the student's code can print anything. So the grader rewrites every
check call of the notebook, ``mdl.lab1.check_matrix(matrix)``, into
``__mdl_check__((1,), "lab1", "check_matrix")(matrix)``. ``__mdl_check__`` is defined by a grader
cell that runs before the first TODO region, i.e. before any student code: it keeps the check
functions as they were then (so rebinding ``mdl.lab1.check_matrix`` later changes nothing), takes
a fingerprint of the course package (every function and class of every ``mitdeeplearning`` module,
and their code objects), and writes one JSON line per check call — pass, fail with the hint, or
error — to the *result channel*. The channel is a file only root may open; the sandbox opens it
before dropping root and hands it to the kernel as an inherited file descriptor, whose number the
grader cell takes out of the environment. The student's code cannot open it by any path, and can
reach the descriptor only with ``os`` and the number, both refused by the screen
(``submission.screen``). Before and after each check the fingerprint is compared: a package changed
under the check marks the result "tampered", and is put back as it was, so that the next TODOs
are judged by the real checks.

What decides a TODO: it passes only if every check call that follows it wrote "pass" to the
channel with an intact fingerprint. No record at all (the answer crashed before its check, the
kernel died, the cell ran out of time) is never a pass.

Later TODOs are still graded after a failure: a TODO that fails, errs, is refused or was not
attempted is replaced by the solution's code (its cell is re-run in solution form after a failed
check), so the notebook's state is what the instructor's later cells expect. A kernel that dies or
a cell that runs out of time ends that kernel; the grader starts a fresh one and runs the notebook
again with the solution's code for every TODO already graded.
"""

import ast
import contextlib
import dataclasses
import json
import os
import pathlib
import re
import sys
import time

import nbformat

from .. import notebooks as _notebooks
from .. import runner as _runner
from . import sandbox as _sandbox

CHECK_WRAPPER = "__mdl_check__"
INSTRUCTOR_CELL_TIMEOUT = 300  # seconds for a cell without student code
OWN_CHECK = getattr(_notebooks, "OWN_CHECK_TAG", "own-check")


@dataclasses.dataclass
class TodoResult:
    number: int
    status: str  # pass | fail | error | not attempted | refused | tampered | not run
    points: float
    max_points: float
    message: str = ""  # the hint, the exception, or why it was refused
    tamper: bool = False


class GraderError(RuntimeError):
    """The grader itself could not run a submission (the kernel did not start, the instructor's
    notebook failed with solution code); the message says what happened."""


# ---------------------------------------------------------------------------------------------
# The graded notebook
# ---------------------------------------------------------------------------------------------


def _check_calls(source):
    """``(func_node, lab, name)`` of every ``mdl.labN.check_*/test_*`` call in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None) if isinstance(node, ast.Call) else None
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                and isinstance(func.value.value, ast.Name) and func.value.value.id == "mdl"
                and func.value.attr.startswith("lab") and func.attr.startswith(("check_", "test_"))):
            calls.append((func, func.value.attr, func.attr))
    return calls


def _offset(lines, lineno, col):
    return sum(len(line) + 1 for line in lines[: lineno - 1]) + col


def wrap_checks(source, todos_of):
    """``source`` with every check call routed through the grader's wrapper.

    ``todos_of(line)`` gives the TODO numbers a call on 1-based ``line`` judges.
    """
    lines = source.split("\n")
    pieces = []
    for func, lab, name in _check_calls(source):
        start = _offset(lines, func.lineno, func.col_offset)
        end = _offset(lines, func.end_lineno, func.end_col_offset)
        todos = tuple(todos_of(func.lineno))
        pieces.append((start, end, f"{CHECK_WRAPPER}({todos!r}, {lab!r}, {name!r})"))
    for start, end, text in sorted(pieces, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def _filled_lines(source, codes):
    """``(line, number)`` pairs of a solution cell with the code between each BEGIN/END pair replaced
    by ``codes[i]`` (a list of lines, or None to keep the solution); ``number`` is the 1-based line of
    the solution cell the line stands for (a replaced region's BEGIN line). Markers are dropped."""
    region, inside = 0, False
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == _notebooks.BEGIN:
            inside = True
            if codes[region] is not None:
                yield from ((code, number) for code in codes[region])
            continue
        if stripped == _notebooks.END:
            inside, region = False, region + 1
            continue
        if not inside or codes[region] is None:
            yield line, number


def fill_regions(source, codes):
    """A solution cell's source with each region's code replaced by ``codes[i]`` (see _filled_lines)."""
    return "\n".join(line for line, _ in _filled_lines(source, codes))


@dataclasses.dataclass
class Step:
    kind: str  # "cell" (instructor's or filled), "bootstrap", "overrides"
    source: str
    todos: tuple = ()  # TODO numbers whose student code this cell runs
    judges: tuple = ()  # TODO numbers whose verdict is known once this cell has run
    repair: str = ""  # solution source to run when one of ``judges`` did not pass


def plan(template, use_student, answers, overrides):
    """The cells of a graded run: ``use_student`` is the set of TODOs that run the student's code."""
    sol = template.solution
    code_cells = [i for i, c in enumerate(sol.cells) if c.cell_type == "code"
                  and "solution-only" not in c.metadata.get("tags", [])]
    todos_by_cell = {}
    for todo in template.todos:
        todos_by_cell.setdefault(todo.cell_index, []).append(todo)
    # which cell's check calls judge each TODO: those after it in its own cell, else the next code cell
    judged_in = {}
    checks_of = {}  # cell index -> list of (line, todos) to attribute calls
    own_checks = {}  # cell index of an instructor's own assert cell -> the TODOs it judges
    for index, todos in todos_by_cell.items():
        source = sol.cells[index].source
        calls = _check_calls(source)
        end_lines = _region_end_lines(source)
        for todo, end in zip(todos, end_lines):
            own = [f.lineno for f, _, _ in calls if f.lineno > end]
            if own:
                judged_in[todo.number] = index
                checks_of.setdefault(index, []).append((end, todo.number))
            else:
                nxt = next((i for i in code_cells if i > index), None)
                judged_in[todo.number] = nxt
                checks_of.setdefault(nxt, []).append((0, todo.number))
                judge = sol.cells[nxt] if nxt is not None else None
                if judge is not None and not _check_calls(judge.source) and OWN_CHECK in judge.metadata.get("tags", []):
                    own_checks.setdefault(nxt, []).append(todo.number)
    first_todo_cell = min(todos_by_cell, default=None)
    steps = []
    for index in code_cells:
        cell = sol.cells[index]
        if index == first_todo_cell:
            steps.append(Step("bootstrap", bootstrap_source(template)))
        todos = todos_by_cell.get(index, [])
        codes = [answers[t.number].code if t.number in use_student else None for t in todos]
        source = fill_regions(cell.source, codes) if todos else cell.source
        # line numbers move when regions are filled; attribute calls on the solution's own lines
        attrib = checks_of.get(index, [])
        filled_lines = _map_lines(cell.source, codes) if todos else None

        def todos_of(line, attrib=attrib, filled_lines=filled_lines):
            original = filled_lines[line - 1] if filled_lines else line
            return [n for end, n in attrib if end < original]

        after_bootstrap = first_todo_cell is not None and index >= first_todo_cell
        if after_bootstrap:
            source = wrap_checks(source, todos_of)
        if index in own_checks:
            source = wrap_own_check(source, own_checks[index])
        judges = tuple(n for n, i in judged_in.items() if i == index)
        repair = ""
        if judges:
            first = min(todo_cell for todo_cell in todos_by_cell if any(
                t.number in judges for t in todos_by_cell[todo_cell]))
            repair = "\n\n".join(wrap_checks(fill_regions(sol.cells[i].source, [None] * len(todos_by_cell.get(i, []))),
                                             lambda line: ())
                                 for i in code_cells if first <= i <= index)
        steps.append(Step("cell", source, tuple(t.number for t in todos if t.number in use_student), judges, repair))
        if "parameters" in cell.metadata.get("tags", []) and overrides:
            steps.append(Step("overrides", "\n".join(f"{k} = {v!r}" for k, v in overrides.items())))
    return steps


def wrap_own_check(source, todos):
    """An ``own-check`` cell (the instructor's asserts) run as one check: it records pass when its
    code ends without error, fail with the assertion's message, error with any other exception."""
    body = "\n".join("    " + line for line in source.split("\n")) if source.strip() else "    pass"
    return (f"def __mdl_own_check__():\n{body}\n\n\n"
            f"{CHECK_WRAPPER}({tuple(todos)!r}, '', 'own-check')(__mdl_own_check__)\n"
            "del __mdl_own_check__")


def _region_end_lines(source):
    return [i + 1 for i, line in enumerate(source.split("\n")) if line.strip() == _notebooks.END]


def _map_lines(source, codes):
    """For each line of the filled cell, the 1-based line of the solution cell it stands for."""
    return [number for _, number in _filled_lines(source, codes)]


def bootstrap_source(template):
    """The grader's cell that runs before the first TODO region (see the module's docstring)."""
    calls = sorted({(lab, name) for c in template.solution.cells if c.cell_type == "code"
                    for _, lab, name in _check_calls(c.source)})
    return f'''# grader: runs before any student code
def __mdl_grader_setup__(calls):
    import importlib, json, os, sys, types
    fd = int(os.environ.pop({_sandbox.CHANNEL_FD_ENV!r}))
    checks = {{(lab, name): getattr(importlib.import_module("mitdeeplearning." + lab), name) for lab, name in calls}}
    checks[("", "own-check")] = lambda cell: cell()  # the instructor's own asserts, run as a function

    def fingerprint():
        marks = {{}}
        for module_name, module in list(sys.modules.items()):
            if module_name.split(".")[0] != "mitdeeplearning" or not isinstance(module, types.ModuleType):
                continue
            for attr, value in list(vars(module).items()):
                if callable(value):
                    marks[(module_name, attr)] = (value, getattr(value, "__code__", None))
        return marks

    pristine = fingerprint()

    def changed():
        """What differs from the pristine package, put back as it was (so that the next TODOs are
        judged by the real checks); the names, for the record."""
        now = fingerprint()
        names = []
        for (module_name, attr), (value, code) in pristine.items():
            seen = now.get((module_name, attr))
            if seen is not None and seen[0] is value and seen[1] is code:
                continue
            names.append(module_name + "." + attr)
            setattr(sys.modules[module_name], attr, value)
            if code is not None:
                value.__code__ = code
        return names

    def send(todos, name, status, message, tampered):
        line = json.dumps({{"todos": list(todos), "check": name, "status": status,
                           "message": message[:2000], "tampered": tampered[:20]}}) + "\\n"
        os.write(fd, line.encode())

    def wrapper(todos, lab, name):
        check = checks[(lab, name)]

        def call(*args, **kwargs):
            before = changed()
            try:
                result = check(*args, **kwargs)
            except AssertionError as exc:
                send(todos, name, "fail", str(exc), before + changed())
                raise
            except BaseException as exc:
                send(todos, name, "error", f"{{type(exc).__name__}}: {{exc}}", before + changed())
                raise
            send(todos, name, "pass", "", before + changed())
            return result
        return call
    return wrapper


{CHECK_WRAPPER} = __mdl_grader_setup__({calls!r})
del __mdl_grader_setup__'''


# ---------------------------------------------------------------------------------------------
# Running a plan in a sandboxed kernel
# ---------------------------------------------------------------------------------------------


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most ``output_cap`` characters of output per cell: a submission that prints
        megabytes cannot make the grader hold them."""

        output_cap = 100_000

        def output(self, outs, msg, display_id, cell_index):
            if not hasattr(self, "_sizes"):
                self._sizes = {}
            key = msg["parent_header"].get("msg_id")  # one per cell execution
            self._sizes[key] = self._sizes.get(key, 0) + len(json.dumps(msg.get("content", {})))
            if self._sizes[key] > self.output_cap:
                if self._sizes[key] - len(json.dumps(msg.get("content", {}))) <= self.output_cap:
                    outs.append(nbformat.v4.new_output("stream", name="stdout", text="[grader: output over "
                                                       f"{self.output_cap} characters dropped]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _kernel_manager(spec, level, log_file):
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]
            return _sandbox.command(spec["path"], argv, level)

    km = SandboxKernelManager(kernel_name="python3", transport="ipc",
                              ip=os.path.join(spec["ipc"], "kernel"),
                              connection_file=os.path.join(spec["ipc"], "connection.json"))
    km.write_connection_file()
    if level in ("strong", "uid"):
        os.chown(km.connection_file, spec["uid"], spec["uid"])
    return km


def _end_kernel(km, level, uid):
    """End the kernel and what it started, at every isolation level.

    At "strong" and "uid" every process of the worker slot's user id ends first, daemons included,
    and the process the grader started (``unshare``, or the kernel itself at "uid") is given a moment
    to see that and exit: ``unshare`` must outlive its child to reap it, or the dead kernel stays a
    zombie of the machine's init. The notebook client leaves alone a kernel manager it was handed,
    so the grader then shuts the kernel down itself: ``shutdown_kernel(now=True)`` sends SIGKILL to
    the process group it started and reaps it (at "limits-only" the kernel and its forks; a process
    that left the group runs as the grader and is out of reach there, which is why every report
    names the level).
    """
    from jupyter_core.utils import run_sync

    if level in ("strong", "uid"):
        _sandbox.kill_user(uid)
        deadline = time.monotonic() + 5
        while km.has_kernel and run_sync(km.is_alive)() and time.monotonic() < deadline:
            time.sleep(0.02)
    if km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)


_TF_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")  # TensorFlow's op location, noise to a student


def tidy(message):
    return _TF_NODE.sub("", message)


def _error_text(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return tidy(f"{out.get('ename')}: {out.get('evalue')}")
    return ""


class Channel:
    def __init__(self, path):
        self.path, self.offset = path, 0

    def read(self):
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        records = []
        for line in complete.decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GraderError(f"the result channel holds a line that is not JSON ({exc}): {line[:120]!r}")
            records.append(record)
        return records


def verdict(records, error):
    """``(status, message, tamper)`` of one TODO from its check records and its cell's error."""
    tampered = sorted({t for r in records for t in r.get("tampered", [])})
    if tampered:
        return "tampered", "the course package was changed while the check ran: " + ", ".join(tampered[:5]), True
    for record in records:
        if record["status"] == "fail":
            return "fail", tidy(record["message"]), False
        if record["status"] == "error":
            return "error", tidy(record["message"]), False
    if records and all(r["status"] == "pass" for r in records):
        return "pass", "", False
    return "error", error or "the check did not run", False


def run_submission(template, answers, predetermined, workdir, uid, level, env, hide, read_only, expose,
                   profile="smoke", cell_timeout=120, submission_timeout=600, limits=None, private=()):
    """Grade the attempted TODOs of one submission; returns ``({number: (status, message, tamper)}, executed_nb)``.

    ``predetermined`` holds the TODOs already decided without running (not attempted, refused …);
    they run the solution's code.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    overrides = _runner.profile_overrides(template.solution, profile)
    decided = dict(predetermined)
    deadline = time.monotonic() + submission_timeout
    executed = nbformat.v4.new_notebook(metadata={"kernelspec": dict(_notebooks.KERNELSPEC)})
    for attempt in range(len(template.todos) + 2):
        student = {n for n, a in answers.items() if a.status == "attempted" and n not in decided}
        steps = plan(template, student, answers, overrides)
        attempt_dir = pathlib.Path(workdir) / f"run{attempt}"
        spec = _sandbox.prepare(attempt_dir, uid, level, hide=hide, read_only=read_only, expose=expose,
                                private=private, env=env, limits=limits)
        channel = Channel(spec["channel"])
        log_path = attempt_dir / "kernel.log"
        km = _kernel_manager(spec, level, log_path)
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": dict(_notebooks.KERNELSPEC)})
        nb.cells = [nbformat.v4.new_code_cell(s.source) for s in steps]
        client = _client_class()(nb, km=km, kernel_name="python3", allow_errors=True, timeout=cell_timeout,
                                 shutdown_kernel="immediate", resources={"metadata": {"path": str(attempt_dir)}})
        running = None
        lost = ""
        with open(log_path, "wb") as kernel_log:
            try:
                with client.setup_kernel(stdout=kernel_log, stderr=kernel_log):
                    for index, step in enumerate(steps):
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            lost = f"the submission's time limit ({submission_timeout} s) was reached"
                            running = step
                            break
                        # the instructor's own cells (importing TensorFlow, training) get the longer limit
                        limit = (cell_timeout if step.todos or step.judges
                                 else max(cell_timeout, INSTRUCTOR_CELL_TIMEOUT))
                        client.timeout = int(max(1, min(limit, remaining)))
                        running = step
                        client.execute_cell(nb.cells[index], index)
                        error = _error_text(nb.cells[index])
                        records = channel.read()
                        if step.kind in ("bootstrap", "overrides") and error:
                            raise GraderError(f"the grader's own cell failed: {error}")
                        for number in step.judges:
                            if number in decided:
                                continue
                            mine = [r for r in records if number in r["todos"]]
                            decided[number] = verdict(mine, error)
                        failed = [n for n in step.judges if n in student and decided[n][0] != "pass"]
                        if failed:  # put the solution's state back, so that later cells can run
                            fix = nbformat.v4.new_code_cell(step.repair)
                            client.timeout = int(max(1, min(cell_timeout, deadline - time.monotonic())))
                            client.execute_cell(fix, index)
                            nb.cells[index].outputs.extend(fix.outputs)
                            channel.read()
                    else:
                        running = None
            except CellTimeoutError:
                lost = f"a cell ran longer than the time limit ({client.timeout} s)"
            except DeadKernelError:
                lost = "the kernel died (memory limit, or the code ended its own process)"
                tail = [line for line in log_path.read_text(errors="replace").splitlines()
                        if line.strip() and not line.startswith(("I0000", "W0000", "E0000", "WARNING: All"))][-3:]
                if tail:  # what the kernel said last (its stderr): often the reason
                    lost += "; its last words: " + " | ".join(line.strip()[:200] for line in tail)
            except RuntimeError as exc:
                if isinstance(exc, GraderError):
                    raise
                tail = log_path.read_text(errors="replace")[-1500:]
                raise GraderError(f"the kernel could not be run: {exc}\nkernel log:\n{tail}") from exc
            finally:  # however the attempt ended, none of its processes outlives it
                _end_kernel(km, level, uid)
        executed.cells.extend(nb.cells)
        if running is None:
            break
        # the kernel is gone: the TODOs whose code was running get the blame, the rest run again
        blamed = [n for n in (*running.todos, *running.judges) if n not in decided]
        if not blamed:  # it happened between TODOs: blame the last student code that ran
            ran = [n for s in steps[: steps.index(running)] for n in s.todos]
            blamed = ran[-1:] if ran else []
        if "time limit" in lost and "submission" in lost:
            for todo in template.todos:
                decided.setdefault(todo.number, ("not run", lost, False))
            break
        if not blamed:
            raise GraderError(f"the instructor's notebook failed with solution code: {lost}")
        for number in blamed:
            decided[number] = ("error", lost, False)
        for step in steps[: steps.index(running)]:  # graded before the loss: keep, rerun with solution
            for number in step.judges:
                decided.setdefault(number, ("error", "the check did not run", False))
    for todo in template.todos:
        decided.setdefault(todo.number, ("not run", "the grader stopped before it", False))
    return decided, executed


@contextlib.contextmanager
def workspace(base):
    """A folder the sandboxed user may pass through (not list), removed afterwards."""
    import shutil
    import tempfile

    folder = pathlib.Path(tempfile.mkdtemp(prefix="mdl-grade-", dir=base))
    os.chmod(folder, 0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
