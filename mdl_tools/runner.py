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

import dataclasses
import datetime
import json
import pathlib
import platform
import re
import time

import nbformat

from mitdeeplearning.util import RESULT_MIME

PROFILES = ("smoke", "default", "full")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ProfileError(ValueError):
    """A notebook has no such profile, or its parameters cell is missing."""


@dataclasses.dataclass
class RunResult:
    notebook: str
    profile: str
    status: str  # "ok" or "failed"
    seconds: float
    output: str  # path of the executed copy
    headline: str = ""
    error: str = ""
    result: dict = dataclasses.field(default_factory=dict)  # the values of the notebook's report_result


def profile_overrides(nb, profile):
    """The parameter overrides of ``profile`` for an already-read notebook."""
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise ProfileError("the notebook has no code cell tagged 'parameters'")
    profiles = cell.metadata.get("mdl", {}).get("profiles", {})
    if profile in profiles:
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


def _describe_failure(exc):
    """A readable account of the failing cell from a papermill execution error."""
    parts = [f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"]
    if getattr(exc, "cell_index", None) is not None:
        parts[0] += f" (in cell {exc.cell_index}, execution count {exc.exec_count})"
    source = getattr(exc, "source", "")
    if source:
        excerpt = source.strip().splitlines()
        parts.append("cell source:\n    " + "\n    ".join(excerpt[:12]) + ("\n    …" if len(excerpt) > 12 else ""))
    traceback = getattr(exc, "traceback", None)
    if traceback:
        tail = _ANSI.sub("", "\n".join(traceback)).strip().splitlines()[-8:]
        parts.append("traceback (last lines):\n    " + "\n    ".join(tail))
    return "\n".join(parts)


def run_notebook(path, profile="default", out_dir="runs", root=None, cell_timeout=1800, extra_parameters=None):
    """Execute one notebook in ``profile``; write the executed copy under ``out_dir``."""
    import papermill

    path = pathlib.Path(path).resolve()
    root = pathlib.Path(root or path.parent).resolve()
    rel = path.relative_to(root) if path.is_relative_to(root) else pathlib.Path(path.name)
    out_path = pathlib.Path(out_dir).resolve() / rel
    out_path.parent.mkdir(parents=True, exist_ok=True)

    nb = nbformat.read(path, as_version=4)
    parameters = profile_overrides(nb, profile)
    parameters.update(extra_parameters or {})

    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(out_path),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
            cwd=str(out_path.parent),  # files a notebook writes (videos, checkpoints) stay beside its executed copy
        )
    except papermill.PapermillExecutionError as exc:
        return RunResult(str(rel), profile, "failed", time.perf_counter() - start, str(out_path), error=_describe_failure(exc))
    except Exception as exc:  # kernel died, timeout, bad notebook: report it, do not hide it
        return RunResult(str(rel), profile, "failed", time.perf_counter() - start, str(out_path), error=f"{type(exc).__name__}: {exc}")
    executed = nbformat.read(out_path, as_version=4)
    return RunResult(str(rel), profile, "ok", time.perf_counter() - start, str(out_path), headline=headline(executed),
                     result=result_record(executed)[1])


def run_all(notebooks, profile, out_dir, root, cell_timeout=1800, log=print):
    """Run ``notebooks`` one after another, logging a line each; write summary.md / summary.json."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    if not notebooks:
        log("Nothing to run: no lab notebooks found (expected lab*/solutions/*_Solution.ipynb).")
    for number, notebook in enumerate(notebooks, 1):
        rel = pathlib.Path(notebook).resolve().relative_to(pathlib.Path(root).resolve())
        log(f"[{number}/{len(notebooks)}] {rel} (profile {profile}) …", end="", flush=True)
        result = run_notebook(notebook, profile, out_dir, root, cell_timeout)
        results.append(result)
        if result.status == "ok":
            log(f" ok in {result.seconds:.1f} s")
        else:
            log(f" FAILED after {result.seconds:.1f} s\n" + _indent(result.error))
    write_summary(results, profile, out_dir)
    return results


def _indent(text, pad="    "):
    return "\n".join(pad + line for line in text.splitlines())


def write_summary(results, profile, out_dir):
    """Write ``summary.json`` and ``summary.md`` in ``out_dir``; return the markdown text."""
    import os

    machine = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "profile": profile,
    }
    out_dir = pathlib.Path(out_dir)
    (out_dir / "summary.json").write_text(
        json.dumps({"machine": machine, "results": [dataclasses.asdict(r) for r in results]}, indent=2) + "\n"
    )
    lines = [
        f"# Results ({profile} profile)",
        "",
        f"{machine['date']} · {machine['cpu_count']} CPU cores · Python {machine['python']} · {machine['platform']}",
        "",
        "| notebook | status | time | headline |",
        "|---|---|---|---|",
    ]
    for r in results:
        head = r.headline.replace("\n", "<br>") if r.status == "ok" else r.error.splitlines()[0] if r.error else ""
        lines.append(f"| {r.notebook} | {r.status} | {r.seconds:.0f} s | {head} |")
    if not results:
        lines.append("| – | nothing to run | – | no lab notebooks yet |")
    text = "\n".join(lines) + "\n"
    (out_dir / "summary.md").write_text(text)
    return text
