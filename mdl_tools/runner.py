"""Execute notebooks headless with a profile, and summarise the results they recorded.

Profiles are stored in the metadata of each notebook's ``parameters`` cell::

    {"tags": ["parameters"], "mdl": {"profiles": {"smoke": {"num_steps": 5}, "full": {...}}}}

``default`` means the parameters cell as written (plus any overrides it lists under "default").
Execution goes through papermill, which injects the overrides in a cell right after the
parameters cell. The last code cell of every lab notebook records its headline result with
``mdl.util.report_result(text, **values)``; the summary collects that record (the sentence and the
values) from the executed notebook. A notebook without a record contributes what its last code
cell printed, and an empty ``result``.
"""

import contextlib
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import signal
import sys
import threading
import time

import nbformat

from mitdeeplearning.util import RESULT_MIME

from . import notebooks as _notebooks

PROFILES = _notebooks.PROFILES
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ProfileError(ValueError):
    """A notebook has no such profile, or its parameters cell is missing."""


class RunLockedError(RuntimeError):
    """Another run is writing into the same output folder."""


INTERRUPTED_TAG = "mdl-interrupted"


@dataclasses.dataclass
class RunResult:
    notebook: str
    profile: str
    status: str  # "ok", "failed", "interrupted" (Ctrl-C while it ran) or "not run" (Ctrl-C before)
    seconds: float
    output: str  # path of the executed copy
    headline: str = ""
    error: str = ""
    result: dict = dataclasses.field(default_factory=dict)  # the values of the notebook's report_result
    overrides: dict = dataclasses.field(default_factory=dict)  # the parameters the profile injected
    date: str = ""  # when it ran (UTC), so that a summary merged from several runs says which is which


def profile_overrides(nb, profile):
    """The parameter overrides of ``profile`` for an already-read notebook."""
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise ProfileError("the notebook has no code cell tagged 'parameters'")
    profiles = cell.metadata.get("mdl", {}).get("profiles", {})
    if profile in profiles:
        unknown = [p for p in _notebooks._profile_problems(nb, "the notebook") if f"profile {profile!r}" in p]
        if unknown:
            raise ProfileError("; ".join(unknown))
        return dict(profiles[profile])
    if profile == "default":
        return {}
    known = ", ".join(["default", *sorted(profiles)])
    raise ProfileError(f"no profile {profile!r} in the parameters cell's metadata (it has: {known})")


def _last_code_cell(executed_nb):
    return next((c for c in reversed(executed_nb.cells) if c.cell_type == "code" and c.source.strip()), None)


def result_record(executed_nb):
    """``(text, values)`` of the ``report_result`` record the last code cell displayed.

    ``("", {})`` when that cell displayed none (a notebook that only prints). Where it displayed
    several, the last one counts.
    """
    cell = _last_code_cell(executed_nb)
    records = [o for o in (cell.get("outputs", []) if cell else []) if RESULT_MIME in o.get("data", {})]
    if not records:
        return "", {}
    data = records[-1]["data"]
    values = data[RESULT_MIME]
    if isinstance(values, str):  # a notebook file may store JSON output as its text
        values = json.loads(values)
    text = data.get("text/plain", "")
    return ("".join(text) if isinstance(text, list) else text).strip(), dict(values)


def headline(executed_nb):
    """The last code cell's headline: its ``report_result`` sentence, else what it printed (stdout)."""
    text, _ = result_record(executed_nb)
    if text:
        return text
    cell = _last_code_cell(executed_nb)
    if cell is None:
        return ""
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"]
    return "".join(texts).strip()


def source_cell_number(executed_nb, index):
    """The 1-based number, in the source notebook, of cell ``index`` of its executed copy (which has
    papermill's injected-parameters cell more); numbered as ``check`` numbers cells."""
    injected = next((i for i, c in enumerate(executed_nb.cells)
                     if "injected-parameters" in c.get("metadata", {}).get("tags", [])), None)
    return index + (0 if injected is None or index < injected else -1) + 1


def _describe_failure(exc, executed_nb=None):
    """A readable account of the failing cell from a papermill execution error."""
    parts = [f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"]
    if getattr(exc, "cell_index", None) is not None:
        number = source_cell_number(executed_nb, exc.cell_index) if executed_nb else exc.cell_index + 1
        parts[0] += f" (in cell {number} of the notebook, counting from 1, markdown included; In [{exc.exec_count}])"
    source = getattr(exc, "source", "")
    if source:
        excerpt = source.strip().splitlines()
        parts.append("cell source:\n    " + "\n    ".join(excerpt[:12]) + ("\n    …" if len(excerpt) > 12 else ""))
    traceback = getattr(exc, "traceback", None)
    if traceback:
        tail = _ANSI.sub("", "\n".join(traceback)).strip().splitlines()[-8:]
        parts.append("traceback (last lines):\n    " + "\n    ".join(tail))
    return "\n".join(parts)


def _kernel_process_groups():
    """Process groups of this process's kernels: children that lead their own process group (setsid), as
    jupyter_client starts them (so that a Ctrl-C in the terminal does not reach them)."""
    import psutil

    groups = []
    for child in psutil.Process().children():
        try:
            if os.getsid(child.pid) == child.pid:
                groups.append(child.pid)
        except ProcessLookupError:  # ended since it was listed
            continue
    return groups


class _InterruptKernel:
    """While a notebook runs, the first Ctrl-C interrupts its kernel, as Jupyter's stop button
    does: the running cell raises KeyboardInterrupt, papermill records it and stops, and the
    kernel shuts down cleanly. A second Ctrl-C (or one before the kernel is up) stops at once."""

    def __enter__(self):
        self.interrupted = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        groups = _kernel_process_groups()
        if self.interrupted or not groups:
            raise KeyboardInterrupt
        self.interrupted = True
        print("\nInterrupting the notebook (press Ctrl-C again to stop at once) …", file=sys.stderr, flush=True)
        for group in groups:
            try:
                os.killpg(group, signal.SIGINT)
            except ProcessLookupError:  # the kernel ended meanwhile; papermill reports that
                continue

    def __exit__(self, *exc_info):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _out_path(path, out_dir, root):
    path = pathlib.Path(path).resolve()
    root = pathlib.Path(root or path.parent).resolve()
    rel = path.relative_to(root) if path.is_relative_to(root) else pathlib.Path(path.name)
    return rel, pathlib.Path(out_dir).resolve() / rel


def run_notebook(path, profile="default", out_dir="runs", root=None, cell_timeout=1800, extra_parameters=None):
    """Execute one notebook in ``profile``; write the executed copy under ``out_dir``.

    Raises :class:`ProfileError` or :class:`~mdl_tools.notebooks.NotebookFormatError` (naming the
    notebook) before anything runs when the notebook cannot be read or lacks the profile; a
    failure while it runs is a ``RunResult`` with status "failed". On Ctrl-C the executed copy is
    marked where it stopped (see :func:`mark_interrupted`) and ``KeyboardInterrupt`` propagates.
    """
    import papermill

    path = pathlib.Path(path).resolve()
    rel, out_path = _out_path(path, out_dir, root)

    nb = _notebooks.read_notebook(path, str(rel))
    try:
        parameters = profile_overrides(nb, profile)
    except ProfileError as exc:
        raise ProfileError(f"{rel}: {exc}") from exc
    out_path.parent.mkdir(parents=True, exist_ok=True)
    parameters.update(extra_parameters or {})

    # nobody watches a headless run: text progress bars keep their last line in the executed copy,
    # where a widget bar would be saved in its first state (mitdeeplearning.util.tqdm reads this)
    os.environ.setdefault("MDL_TEXT_PROGRESS", "1")
    start = time.perf_counter()
    interrupt = _InterruptKernel()
    kernel_log = out_path.with_name(out_path.stem + ".kernel.log")
    try:
        with interrupt:
            papermill.execute_notebook(
                str(path),
                str(out_path),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                cwd=str(out_path.parent),  # files a notebook writes (videos, checkpoints) stay beside its executed copy
                # the kernel's own stderr (ipykernel's "running over TCP without encryption" warning) goes
                # to a log beside the executed copy, not between the progress lines of the terminal
                kernel_manager_class=_kernel_manager_logging_to(kernel_log, package_source(root)[0]),
            )
        if interrupt.interrupted:  # the Ctrl-C reached the kernel as its last cell ended
            raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        exc.mdl_stopped = mark_interrupted(out_path, path, time.perf_counter() - start)
        raise
    except papermill.PapermillExecutionError as exc:
        if interrupt.interrupted:  # the cell stopped with the KeyboardInterrupt we sent
            stopped = KeyboardInterrupt()
            stopped.mdl_stopped = mark_interrupted(out_path, path, time.perf_counter() - start)
            raise stopped from None
        executed = nbformat.read(out_path, as_version=4) if out_path.is_file() else None
        return RunResult(str(rel), profile, "failed", time.perf_counter() - start, str(out_path),
                         error=_describe_failure(exc, executed), overrides=parameters)
    except Exception as exc:  # kernel died, timeout, bad notebook: report it, do not hide it
        return RunResult(str(rel), profile, "failed", time.perf_counter() - start, str(out_path),
                         error=f"{type(exc).__name__}: {exc} (the kernel's own log: {kernel_log})", overrides=parameters)
    executed = nbformat.read(out_path, as_version=4)
    return RunResult(str(rel), profile, "ok", time.perf_counter() - start, str(out_path), headline=headline(executed),
                     result=result_record(executed)[1], overrides=parameters)


def _kernel_manager_logging_to(path, python_path=None):
    """A kernel manager class whose kernels write their stderr to ``path`` (the cells' own output
    still reaches the notebook: ipykernel captures it) and, given ``python_path``, import from that
    folder first (the checkout being run, see :func:`package_source`)."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggingKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs):
            self._mdl_log = open(path, "w")
            kwargs.setdefault("stderr", self._mdl_log)
            if python_path:
                env = dict(kwargs.get("env") or os.environ)
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), env.get("PYTHONPATH")]))
                kwargs["env"] = env
            return await super().start_kernel(**kwargs)

        async def shutdown_kernel(self, *args, **kwargs):
            try:
                return await super().shutdown_kernel(*args, **kwargs)
            finally:
                self._mdl_log.close()

    return LoggingKernelManager


def mark_interrupted(out_path, source_path, seconds):
    """Make the executed copy of an interrupted run say where it stopped; returns that sentence.

    papermill marks every cell "completed" when execution ends, whatever ended it. Here the cell
    that was running gets status "failed" and a ``KeyboardInterrupt`` error output, the cells
    after it status "pending", and a markdown cell at the top (tag ``mdl-interrupted``) says which
    cell the run stopped in. Where papermill wrote no copy yet, the source notebook is copied.
    """
    out_path = pathlib.Path(out_path)
    nb = nbformat.read(out_path if out_path.is_file() else source_path, as_version=4)
    started = [i for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if started:
        stopped = started[-1]
        cell = nb.cells[stopped]
        cell.metadata.setdefault("papermill", {})["status"] = "failed"
        if not any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", [])):
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename="KeyboardInterrupt",
                evalue="the run was interrupted (Ctrl-C) while this cell ran; the cells below did not run",
                traceback=[]))
        count = cell.get("execution_count")
        first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")[:60]
        where = (f"cell In [{count}]" if count else "the cell") + f" (`{first_line}`)"
        sentence = f"Interrupted (Ctrl-C) after {seconds:.0f} s in {where}; the cells after it did not run."
    else:
        stopped = -1
        sentence = f"Interrupted (Ctrl-C) after {seconds:.0f} s, before the first cell ran."
    for cell in nb.cells[stopped + 1:]:
        if cell.cell_type == "code":
            cell.metadata.setdefault("papermill", {})["status"] = "pending"
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**{sentence}**", metadata={"tags": [INTERRUPTED_TAG]}))
    nb.metadata.setdefault("papermill", {})["exception"] = True
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_path)
    return sentence


@contextlib.contextmanager
def _exclusive(out_dir):
    """Hold ``out_dir/.run.lock`` for the duration: a second run into the same folder is refused.

    The lock is the operating system's (``flock``), released when the process ends however it
    ends, so a crashed run never leaves a stale lock behind.
    """
    handle = open(pathlib.Path(out_dir) / ".run.lock", "a+")
    try:
        try:
            if os.name == "nt":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            try:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
            except OSError:  # Windows: the locked byte cannot be read by others
                holder = "unknown"
            raise RunLockedError(
                f"another run (process {holder}) is writing into {out_dir}; wait for it to finish, "
                f"or pass a different --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def package_source(root):
    """``(python_path, note)``: where the kernel should import the course package from, and a note
    when that differs from where this Python would import it (the installed copy).

    A checkout that holds the package (``<root>/<package>/__init__.py``) is put first on the
    kernel's ``PYTHONPATH``, so a check just added to it is the one the notebook calls. ``note``
    is "" when the installed package is this checkout's anyway. ``MDL_KERNEL_PACKAGE=installed``
    keeps the kernel on its own installed copy: the Colab replicas test that copy, as installed by
    the notebooks' setup cell.
    """
    import importlib.util

    if root is None or os.environ.get("MDL_KERNEL_PACKAGE") == "installed":
        return None, ""
    root = pathlib.Path(root).resolve()
    try:
        package = _notebooks.load_config(root)["package"]
    except (OSError, ValueError):  # no config: nothing to point the kernel at
        return None, ""
    local = root / package / "__init__.py"
    if not local.is_file():
        return None, ""
    spec = importlib.util.find_spec(package)
    installed = pathlib.Path(spec.origin).resolve() if spec and spec.origin else None
    if installed == local:
        return root, ""
    where = installed.parent if installed else "nowhere (not installed)"
    return root, (f"note: the kernels import {package} from this checkout ({local.parent}); this Python's "
                  f"installed {package} is {where}")


def _display_path(notebook, root):
    path, root = pathlib.Path(notebook).resolve(), pathlib.Path(root).resolve()
    return path.relative_to(root) if path.is_relative_to(root) else path


def run_all(notebooks, profile, out_dir, root, cell_timeout=1800, log=print):
    """Run ``notebooks`` one after another, logging a line each; write summary.md / summary.json.

    A notebook that cannot be run (unreadable, no such profile, outside the checkout) is reported
    by name as failed and the others still run. The summary is rewritten as "running" before the
    first notebook starts, so an older one never looks current; on Ctrl-C it is written marked
    "interrupted" (the notebook that was running, and those that never started, say so) and
    ``KeyboardInterrupt`` propagates. Raises :class:`RunLockedError` while another run writes
    into ``out_dir``.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = pathlib.Path(root).resolve()
    with _exclusive(out_dir):
        results = []
        names = {str(_display_path(n, root)) for n in notebooks}
        kept = [r for r in _previous_results(out_dir, profile) if r.notebook not in names]
        if kept:
            log(f"Keeping the results of {len(kept)} other notebook(s) from earlier runs in {out_dir.name}/summary.md.")
        note = package_source(root)[1]
        if note:
            log(note)
        write_summary(kept + results, profile, out_dir, state="running", root=root)
        if not notebooks:
            log("Nothing to run: no lab notebooks found (expected lab*/solutions/*_Solution.ipynb).")
        for number, notebook in enumerate(notebooks, 1):
            rel = _display_path(notebook, root)
            log(f"[{number}/{len(notebooks)}] {rel} (profile {profile}) …", end="", flush=True)
            start = time.perf_counter()
            try:
                if not pathlib.Path(notebook).resolve().is_relative_to(root):
                    raise ValueError(
                        f"{rel} is outside the checkout {root}; the runner runs this checkout's "
                        f"notebooks (copy it in, e.g. under lab1/, or run it from its own checkout)"
                    )
                result = run_notebook(notebook, profile, out_dir, root, cell_timeout)
            except KeyboardInterrupt as exc:
                seconds = time.perf_counter() - start
                _, out_path = _out_path(notebook, out_dir, root)
                where = getattr(exc, "mdl_stopped", f"Interrupted (Ctrl-C) after {seconds:.0f} s, before it started.")
                results.append(RunResult(str(rel), profile, "interrupted", seconds, str(out_path), error=where, date=_now()))
                results += [RunResult(str(_display_path(n, root)), profile, "not run", 0.0, "",
                                      error="not run: the run was interrupted before it") for n in notebooks[number:]]
                log(f" INTERRUPTED after {seconds:.1f} s")
                write_summary(kept + results, profile, out_dir, state="interrupted", root=root)
                raise
            except (ProfileError, ValueError) as exc:  # NotebookFormatError, outside the checkout
                result = RunResult(str(rel), profile, "failed", time.perf_counter() - start, "", error=str(exc))
            result.date = _now()
            results.append(result)
            if result.status == "ok":
                log(f" ok in {result.seconds:.1f} s")
            else:
                log(f" FAILED after {result.seconds:.1f} s\n" + _indent(result.error))
        write_summary(kept + results, profile, out_dir, root=root)
    return results


def _previous_results(out_dir, profile):
    """The results in ``out_dir/summary.json`` of an earlier run of ``profile``; [] when there is none.

    A summary that cannot be read is named in an error rather than overwritten unread.
    """
    path = pathlib.Path(out_dir) / "summary.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        if data["machine"]["profile"] != profile:
            return []
        fields = {f.name for f in dataclasses.fields(RunResult)}
        return [RunResult(**{k: v for k, v in r.items() if k in fields}) for r in data["results"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} cannot be read ({type(exc).__name__}: {exc}); move it away or pass another --out") from exc


def _indent(text, pad="    "):
    return "\n".join(pad + line for line in text.splitlines())


_STATE_LINES = {
    "running": "**Running** — this run has not finished. If no `mitdeeplearning run` is writing here, "
               "it was stopped before it could write its summary.",
    "interrupted": "**Interrupted** (Ctrl-C) — the run was stopped; the notebooks below marked "
                   "*interrupted* or *not run* have no result.",
}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _versions(root):
    """What the results depend on: the commit of the checkout, the course package, TensorFlow, Keras."""
    import importlib.metadata

    versions = {}
    if root is not None:
        head = _notebooks._git(root, "rev-parse", "--short", "HEAD")
        if head.returncode == 0:
            dirty = _notebooks._git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip()
            versions["commit"] = head.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
        else:
            versions["commit"] = "not a git checkout"
        try:
            versions["package"] = _notebooks.read_version(root)
        except (OSError, ValueError) as exc:
            versions["package"] = f"unknown ({exc})"
    for name in ("tensorflow", "keras"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_summary(results, profile, out_dir, state="complete", root=None):
    """Write ``summary.json`` and ``summary.md`` in ``out_dir``; return the markdown text.

    ``state`` is "complete", "running" (written before the first notebook) or "interrupted"; the
    last two say so at the top of both files. Paths are relative to ``out_dir`` (executed copies)
    or to the checkout (notebooks). Both are written through a temporary name, so a reader never
    sees half a summary.
    """
    machine = {
        "date": _now(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "profile": profile,
        **_versions(root),
    }
    out_dir = pathlib.Path(out_dir)
    records = []
    for r in results:
        record = dataclasses.asdict(r)
        if r.output and pathlib.Path(r.output).is_absolute() and pathlib.Path(r.output).is_relative_to(out_dir.resolve()):
            record["output"] = pathlib.Path(r.output).relative_to(out_dir.resolve()).as_posix()
        records.append(record)
    _write_text(out_dir / "summary.json", json.dumps({"machine": machine, "state": state, "results": records},
                                                     indent=2) + "\n")
    lines = [f"# Results ({profile} profile)", ""]
    if state in _STATE_LINES:
        lines += [_STATE_LINES[state], ""]
    stack = " · ".join(f"{k} {machine[k]}" for k in ("commit", "package", "tensorflow", "keras") if k in machine)
    lines += [
        f"{machine['date']} · {machine['cpu_count']} CPU cores · Python {machine['python']} · {machine['platform']}",
        "",
        stack,
        "",
        "| notebook | status | time | headline | overrides | ran at |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        head = r.headline.replace("\n", "<br>") if r.status == "ok" else r.error.splitlines()[0] if r.error else ""
        overrides = ", ".join(f"{k}={v!r}" for k, v in r.overrides.items()) or "–"
        lines.append(f"| {r.notebook} | {r.status} | {r.seconds:.0f} s | {head} | {overrides} | {r.date or '–'} |")
    if not results and state == "complete":
        lines.append("| – | nothing to run | – | no lab notebooks yet | – | – |")
    text = "\n".join(lines) + "\n"
    _write_text(out_dir / "summary.md", text)
    return text


def _write_text(path, text):
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
