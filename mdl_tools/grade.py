"""Grade a class: run the notebook's own checks on every submitted notebook, each in a sandbox.

    mitdeeplearning grade SUBMISSION_OR_FOLDER … [--lab NOTEBOOK] [--workers N] [--out DIR]
                              [--profile smoke] [--cell-timeout S] [--timeout S]
    mitdeeplearning grade --gradescope-bundle lab1/Part1_TensorFlow.ipynb [--out DIR]

Writes into ``--out`` (default ``grades/``): ``grades.csv`` (student × TODO points, total),
``results.json`` (every TODO's status and message), ``reports/<student>.html`` and
``summary.md`` (which TODOs fail most, with which hints; flagged submissions). docs/GRADING.md
explains the design: what is run, how results travel, which isolation protects what.
"""

import argparse
import concurrent.futures
import importlib.util
import multiprocessing
import os
import pathlib
import sys
import time

from . import notebooks as _notebooks
from .grading import execute as _execute
from .grading import report as _report
from .grading import sandbox as _sandbox
from .grading import submission as _submission

BASE_UID = 61000  # sandboxed kernels run as a user id from BASE_UID on, one per worker (no account needed)
UID_RANGE = 1000


def load_templates(root, lab=None):
    """The lab notebooks a class may submit: all of them, or the one ``lab`` names."""
    root = pathlib.Path(root).resolve()
    solutions = _notebooks.solution_notebooks(root)
    if lab:
        wanted = _notebooks.solution_path(pathlib.Path(lab)).name
        solutions = [s for s in solutions if s.name == wanted]
        if not solutions:
            raise ValueError(f"--lab {lab}: no such lab notebook (expected e.g. lab1/Part1_TensorFlow.ipynb)")
    return [_submission.load_template(s, root) for s in solutions]


def collect(paths):
    """Files to grade: the files named, and every file (not hidden) inside the folders named."""
    files = []
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such submission file or folder: {path}")
    if not files:
        raise ValueError("no submissions found in " + ", ".join(map(str, paths)))
    return [f.resolve() for f in files]


def _student_name(path, seen):
    name = path.stem
    base, n = name, 2
    while name in seen:
        name, n = f"{base}-{n}", n + 1
    seen.add(name)
    return name


class Grader:
    """Settings shared by every submission of a run (sent to the worker processes)."""

    def __init__(self, root, templates, out, profile="smoke", cell_timeout=120, submission_timeout=600,
                 submissions=(), level=None, limits=None, screen=True, hide=()):
        self.root = pathlib.Path(root).resolve()
        self.templates = templates
        self.out = pathlib.Path(out).resolve()
        self.profile = profile
        self.cell_timeout = cell_timeout
        self.submission_timeout = submission_timeout
        self.limits = limits
        self.screen = screen
        self.level = level or _sandbox.isolation()
        self.warning = ""
        if self.level == "strong":
            problem = _sandbox.probe_strong()
            if problem:
                self.level, self.warning = "uid", f"namespaces unavailable ({problem})"
        data = pathlib.Path(os.environ.get("MDL_DATA_DIR", self.root / "data")).resolve()
        self.env = {
            "PATH": f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
            "MDL_OFFLINE": "1", "MDL_DATA_DIR": str(data), "MDL_TEXT_PROGRESS": "1", "MPLBACKEND": "agg",
            "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
        self.read_only = [str(data)]
        needed = [self.root, pathlib.Path(sys.prefix), pathlib.Path(sys.base_prefix), data]
        hide = {self.out, self.root / ".git", *map(pathlib.Path, hide),
                *[pathlib.Path(t.solution_path).parent for t in templates]}
        for sub in submissions:  # their folders, unless the sandbox needs what is in them
            folder = sub.parent
            hide.add(sub if any(p.is_relative_to(folder) for p in needed) else folder)
        self.hide = sorted(str(h) for h in hide)
        # of the checkout the kernel sees the package it imports and the data, nothing else
        package = pathlib.Path(importlib.util.find_spec("mitdeeplearning").origin).parent
        self.expose = [str(package), str(data)]
        self.private = [str(self.root)]

    def grade(self, path, student, uid, workspace):
        """Grade one file; returns its result (a dict, as results.json holds it)."""
        start = time.perf_counter()
        result = {"student": student, "file": path.name, "notebook": "", "status": "graded", "problem": "",
                  "todos": [], "total": 0, "max_points": 0, "edits": [], "flags": [], "isolation": self.level,
                  "uid": uid}
        try:
            nb = _submission.read_submission(path)
            template = _submission.recognise(nb, self.templates)
        except _submission.SubmissionError as exc:
            result.update(status="unreadable", problem=str(exc), seconds=time.perf_counter() - start)
            return result
        result.update(notebook=template.name, max_points=template.max_points)
        answers, edits = _submission.extract(nb, template)
        result["edits"] = edits
        predetermined = {}
        for number, answer in answers.items():
            if answer.status != "attempted":
                predetermined[number] = (answer.status, "", False)
                continue
            if not self.screen:
                continue
            screening = _submission.screen(answer.code)
            if screening.verdict == "syntax":
                predetermined[number] = ("error", screening.reason, False)
            elif screening.verdict != "ok":
                status = "tampered" if screening.verdict == "tamper" else "refused"
                predetermined[number] = (status, screening.reason + " (not run)", status == "tampered")
        try:
            decided, executed = _execute.run_submission(
                template, answers, predetermined, workspace / student, uid, self.level, self.env,
                self.hide, self.read_only, self.expose, self.profile, self.cell_timeout,
                self.submission_timeout, self.limits, self.private)
        except _execute.GraderError as exc:
            result.update(status="grader error", problem=str(exc), seconds=time.perf_counter() - start)
            return result
        import nbformat

        (self.out / "executed").mkdir(exist_ok=True)
        nbformat.write(executed, self.out / "executed" / f"{student}.ipynb")
        for todo in template.todos:
            status, message, tamper = decided[todo.number]
            if status == "refused":
                result["flags"].append(f"TODO {todo.number} refused: {message}")
            if tamper:
                result["flags"].append(f"TODO {todo.number} tampering: {message}")
            points = template.points[todo.number] if status == "pass" else 0
            result["todos"].append({"number": todo.number, "status": status, "points": points,
                                    "max_points": template.points[todo.number], "message": message,
                                    "tamper": tamper})
        result["total"] = sum(t["points"] for t in result["todos"])
        result["seconds"] = time.perf_counter() - start
        return result


_uid = None
_uid_lock = None


def claim_uid():
    """A user id no other worker on this machine holds, for as long as this process lives.

    Every grader run takes its workers' ids through the same lock files, so two runs at once (two
    courses, a test beside a run) never share an id: sweeping one kernel's id kills nothing else.
    """
    import fcntl
    import tempfile

    folder = pathlib.Path(tempfile.gettempdir()) / "mdl-grade-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.geteuid():
        raise RuntimeError(f"{folder} belongs to another user; remove it (it only holds lock files)")
    for uid in range(BASE_UID, BASE_UID + UID_RANGE):
        handle = open(folder / f"{uid}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return uid, handle
    raise RuntimeError(f"all {UID_RANGE} sandbox user ids from {BASE_UID} are taken by running graders")


def _init_worker():
    global _uid, _uid_lock
    _uid, _uid_lock = claim_uid()


def _grade_in_worker(grader, path, student, workspace):
    return grader.grade(path, student, _uid, workspace)


def _stop_resource_tracker():
    """Stop multiprocessing's resource tracker, which the spawn pool starts and which would otherwise
    stay a child of the caller (a notebook, a test run) until it exits. A later pool starts it again.
    ``_stop`` is private to multiprocessing (Python 3.8 to 3.13 have it); where it is missing, the
    tracker is left running, which is harmless."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


def grade_class(grader, files, workers=2, progress=True, workspace_base=None):
    """Grade ``files`` in ``workers`` processes; write every output; return the results."""
    from tqdm.auto import tqdm

    grader.out.mkdir(parents=True, exist_ok=True)
    os.chmod(grader.out, 0o700)
    (grader.out / "reports").mkdir(exist_ok=True)
    start = time.perf_counter()
    seen = set()
    jobs = [(path, _student_name(path, seen)) for path in files]
    results = []
    with _execute.workspace(workspace_base) as workspace:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            futures = {pool.submit(_grade_in_worker, grader, path, student, workspace): (path, student)
                       for path, student in jobs}
            bar = tqdm(total=len(jobs), desc="grading", unit="notebook", disable=not progress)
            for future in concurrent.futures.as_completed(futures):
                path, student = futures[future]
                try:
                    results.append(future.result())
                except Exception as exc:  # a bug of the grader's: report it against the file, keep going
                    results.append({"student": student, "file": path.name, "notebook": "", "status": "grader error",
                                    "problem": f"{type(exc).__name__}: {exc}", "todos": [], "total": 0,
                                    "max_points": 0, "edits": [], "flags": [], "isolation": grader.level})
                bar.update()
            bar.close()
    _stop_resource_tracker()
    order = {student: i for i, (_, student) in enumerate(jobs)}
    results.sort(key=lambda r: order[r["student"]])
    seconds = time.perf_counter() - start
    _report.write_csv(results, grader.out / "grades.csv")
    _report.write_json({"isolation": grader.level, "warning": grader.warning, "seconds": seconds,
                        "results": results}, grader.out / "results.json")
    for r in results:
        _report.write_student_html(r, grader.out / "reports" / f"{r['student']}.html")
    isolation = grader.level + (f" ({grader.warning})" if grader.warning else "")
    (grader.out / "summary.md").write_text(_report.summary(results, isolation, seconds), encoding="utf-8")
    return results, seconds


def count_line(results, seconds):
    graded = [r for r in results if r["status"] == "graded"]
    full = sum(r["total"] == r["max_points"] for r in graded)
    flagged = sum(bool(r["flags"]) for r in results)
    return (f"graded {len(graded)}/{len(results)} submission(s) in {seconds:.0f} s: {full} with full marks, "
            f"{flagged} flagged, {len(results) - len(graded)} not graded")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mitdeeplearning grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="*", help="submitted notebooks, or folders of them")
    parser.add_argument("--lab", help="the lab notebook submitted (e.g. lab1/Part1_TensorFlow.ipynb); "
                        "default: recognise it")
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--out", help="output folder (default: grades/)")
    parser.add_argument("--profile", default="smoke", choices=_notebooks_profiles())
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per submission (default 600)")
    parser.add_argument("--memory", type=float, default=6, help="GB of address space per kernel (default 6)")
    parser.add_argument("--gradescope-bundle", metavar="NOTEBOOK",
                        help="write the Gradescope autograder zip for this student notebook, then stop")
    parser.add_argument("--gradescope-results", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        root = _notebooks.find_root()
        if args.gradescope_bundle:
            from .grading import gradescope

            zip_path = gradescope.write_bundle(root, args.gradescope_bundle, pathlib.Path(args.out or "grades"))
            print(f"Gradescope autograder: {zip_path}")
            return 0
        if not args.submissions:
            parser.error("name the submitted notebooks (or folders), or --gradescope-bundle NOTEBOOK")
        if args.workers < 1:
            parser.error("--workers must be at least 1")
        files = collect(args.submissions)
        templates = load_templates(root, args.lab)
        out = pathlib.Path(args.out or root / "grades")
        limits = {"address_space": int(args.memory * 1024**3)}
        results_dir = [pathlib.Path(args.gradescope_results).parent] if args.gradescope_results else []
        grader = Grader(root, templates, out, args.profile, args.cell_timeout, args.timeout, files,
                        limits=limits, hide=results_dir)
        if grader.level != "strong":
            print(f"warning: isolation is {grader.level!r} ({_sandbox.LEVELS[grader.level]}) {grader.warning}; "
                  "see docs/GRADING.md", file=sys.stderr)
        results, seconds = grade_class(grader, files, args.workers)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gradescope_results:  # one submission per run there; the first graded notebook counts
        chosen = next((r for r in results if r["status"] == "graded"), results[0])
        _report.write_json(_report.gradescope_results(chosen), args.gradescope_results)
    print(count_line(results, seconds))
    print(f"Table, reports and summary in {out}")
    return 0


def _notebooks_profiles():
    from .runner import PROFILES

    return PROFILES


if __name__ == "__main__":
    sys.exit(main())
