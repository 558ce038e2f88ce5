"""Helpers the report's sections share: where things are, running benchmarks and notebooks, figures.

Each lab's section (``lab1.py``, ``lab2.py``, ``lab3.py``, ``suite.py``) measures with these and
renders its part of RESULTS.md; ``mdl_tools.bench`` (the package) puts the sections together.
"""

import base64
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time


class BenchError(RuntimeError):
    """A benchmark or notebook failed, or printed nothing the report can use."""


def repository_root():
    """The checkout these tools were installed from (benchmarks live there, not in a package)."""
    root = pathlib.Path(__file__).resolve().parents[2]
    if not (root / "benchmarks").is_dir():
        raise BenchError(
            f"no benchmarks/ folder next to mdl_tools ({root}): `mitdeeplearning bench` runs from a git "
            "checkout with mdl_tools installed editable (`make` does this)"
        )
    return root


def machine_info():
    """Cores, CPU, GPU, versions and date: stamped on every section."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "processor": _cpu_name(),
        "gpus": [g.name for g in gpus],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "platform": platform.platform(),
    }


def _cpu_name():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError as exc:  # not Linux: fall back to what platform knows, and say so in the name
        return f"{platform.processor() or platform.machine()} (/proc/cpuinfo unreadable: {exc.strerror})"
    return platform.processor() or platform.machine()


def hardware_line(machine):
    gpu = ", ".join(machine["gpus"]) if machine["gpus"] else "no GPU"
    return f"{machine['date']} · {machine['cpu_count']} CPU cores ({machine['processor']}) · {gpu} · TF {machine['tensorflow']}"


_RUN_SCRIPT = (
    "import json, runpy, sys\n"
    "module = runpy.run_path(sys.argv[1], run_name='benchmark')\n"
    "result = module['run'](quick=sys.argv[3] == 'quick')\n"
    "with open(sys.argv[2], 'w') as f:\n"
    "    json.dump(result, f, indent=1)\n"
)


def run_benchmark(script, quick, log=print):
    """Run ``benchmarks/<script>``'s ``run(quick)`` in a fresh Python process; return its dict.

    A fresh process per benchmark keeps TensorFlow's one-time settings (thread counts) and memory
    from leaking between them. The benchmark's own progress lines are shown as they come.
    """
    script = repository_root() / "benchmarks" / script  # an absolute path stays as it is
    if not script.is_file():
        raise BenchError(f"benchmark script {script} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        log(f"  $ python {script.name}{' --quick' if quick else ''}")
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUN_SCRIPT, str(script), str(out), "quick" if quick else "full"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(script.parents[1]),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")},
        )
        tail = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-30:]
            log("    " + line.rstrip())
        if proc.wait() != 0:
            raise BenchError(f"{script.name} failed (exit {proc.returncode}); its last lines:\n  "
                             + "\n  ".join(tail))
        result = json.loads(out.read_text())
    result["wall_seconds"] = time.perf_counter() - start
    return result


def benchmark_module(script):
    """The functions of ``benchmarks/<script>`` (a dict of its globals), for the steps after a measurement."""
    import runpy

    path = repository_root() / "benchmarks" / script
    if not path.is_file():
        raise BenchError(f"benchmark script {path} is missing")
    return runpy.run_path(str(path), run_name="benchmark")


def run_notebook(relpath, profile, work_dir, log=print):
    """Execute a solution notebook with ``profile``; return (RunResult, executed notebook)."""
    import nbformat

    from mdl_tools import runner

    root = repository_root()
    log(f"  $ mitdeeplearning run {relpath} --profile {profile}", end="", flush=True)
    result = runner.run_notebook(root / relpath, profile, pathlib.Path(work_dir) / profile, root)
    if result.status != "ok":
        log(" FAILED")
        raise BenchError(f"{relpath} ({profile} profile) failed:\n{result.error}")
    log(f" ok in {result.seconds:.0f} s")
    return result, nbformat.read(result.output, as_version=4)


def notebook_result(nb, keys, relpath):
    """The values the notebook's last cell recorded with ``mdl.util.report_result``.

    A record that is missing, or lacks one of ``keys``, is an error that names what is missing.
    """
    from mdl_tools import runner

    _, values = runner.result_record(nb)
    if not values:
        raise BenchError(f"{relpath}: the last code cell recorded no result; it must call "
                         "mdl.util.report_result(text, **values)")
    missing = [k for k in keys if k not in values]
    if missing:
        raise BenchError(f"{relpath}: the result record has no {', '.join(missing)} (it has: {', '.join(values)}); "
                         "add them to the report_result call in the last cell")
    return values


def save_figure_from_notebook(nb, tag, path, required=True, log=print):
    """Write the first PNG that the cell tagged ``tag`` displayed to ``path``; return its name.

    A cell that showed no image is an error, unless ``required`` is False (smoke runs, where e.g.
    no generated tune plays yet): then it is logged and None is returned.
    """
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            if images:
                path.write_bytes(base64.b64decode(images[0]))
                return path.name
            if required:
                raise BenchError(f"the cell tagged {tag!r} displayed no image in this run")
            log(f"  note: the cell tagged {tag!r} displayed no image in this run; the report leaves the figure out")
            return None
    raise BenchError(f"no cell tagged {tag!r} in the notebook: add the tag to the cell that draws this figure")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: The pass/fail targets of the benchmarks, in one place: the benchmarks judge their results with
#: them and the report's sections print them. Gaps and accuracy differences are in percentage points.
TARGETS = {
    "lab2_debias": {
        "cnn_gap_min": 10.0,           # the standard CNN's lighter - darker gap, mean over seeds
        "gap_cut_min": 50.0,           # % of the CNN's gap that a DB-VAE removes
        "accuracy_drop_max": 1.0,      # a DB-VAE's accuracy may fall this far below the CNN's
        "lesson_seeds_share_min": 0.9,  # share of seeds on which one run shows the lesson
    },
}


def mean_se(values):
    """``{"mean", "se"}`` of ``values`` over seeds; ``se`` is the standard error, SD / sqrt(n).

    ``None`` entries (a run that measured nothing) are left out. One value has no spread: ``se`` is
    None; no value at all gives ``{"mean": None, "se": None}``.
    """
    import numpy as np

    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return {"mean": None, "se": None}
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
    return {"mean": float(v.mean()), "se": se}


def format_mean_se(summary, scale=1.0, digits=1, sign=False):
    """``"mean ± se"`` of a :func:`mean_se` result, both times ``scale``; the mean alone without a
    spread, ``"n/a"`` without a mean."""
    if summary["mean"] is None:
        return "n/a"
    mean = f"{scale * summary['mean']:{'+' if sign else ''}.{digits}f}"
    return mean if summary["se"] is None else f"{mean} ± {scale * summary['se']:.{digits}f}"


def stamp(section):
    m = section["machine"]
    text = f"*Measured {hardware_line(m)}; section took {section['seconds'] / 60:.1f} min"
    if "load_average" in section:  # above the core count: other jobs shared the CPU, times are inflated
        start, end = section["load_average"]
        busy = max(start, end) > m["cpu_count"] + 0.5
        text += f"; 1-min load average {start:.1f} → {end:.1f}" + (" (the machine was shared: times are inflated)" if busy else "")
    if section.get("remeasured"):  # parts measured again later, on their own (say which, when and how)
        text += f". Measured again since: {section['remeasured']}"
    return text + ".*"


def images(section, fig, captions):
    return [f"![{caption}]({fig}/{name})" for name, caption in captions.items() if name in section["figures"]]


def save_json(path, data):
    path.write_text(json.dumps(data, indent=1) + "\n")

