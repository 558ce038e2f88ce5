"""Colab section of the report: every solution notebook in the ``default`` profile, once on the
project's own stack (``requirements.txt``) and once on a replica of Colab's newest runtime, one after
the other in the same bench run, so that a difference caused by Colab's TensorFlow, Keras or NumPy
shows as a difference in the headline numbers.

The replica is the venv that ``make test-colab`` builds (``.ci/colab/replica.py``); this section
uses its kernel and does not build it.
"""

import contextlib
import importlib.util
import os
import platform

from . import common

NOTEBOOKS = (
    "lab1/solutions/Part1_TensorFlow_Solution.ipynb",
    "lab1/solutions/Part2_Music_Generation_Solution.ipynb",
    "lab2/solutions/Part1_MNIST_Solution.ipynb",
    "lab2/solutions/Part2_Debiasing_Solution.ipynb",
    "lab3/solutions/RL_Solution.ipynb",
)
VERSIONS = ("tensorflow", "keras", "numpy", "ipython")


def _replica_module():
    path = common.repository_root() / ".ci" / "colab" / "replica.py"
    spec = importlib.util.spec_from_file_location("colab_replica", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _kernels_on(path):
    """Inside the block, kernels are the ``python3`` kernelspec under ``path`` (the replica's), and
    they import the package installed there, not the checkout."""
    changes = {"JUPYTER_PATH": str(path), "MDL_KERNEL_PACKAGE": "installed"}
    old = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _row(run):
    return {"seconds": run.seconds, "headline": run.headline.splitlines()[-1:], "result": run.result}


def measure(quick, work_dir, figures, log=print):
    import IPython
    import keras
    import numpy
    import tensorflow

    replica = _replica_module()
    runtime = replica.load_runtimes()[-1]  # file names start with the date: the last is the newest
    venv = common.repository_root() / ".venv-colab" / runtime.name
    kernels = venv / "jupyter"
    if not (kernels / "kernels" / "python3" / "kernel.json").is_file():
        raise common.BenchError(f"no replica of Colab runtime {runtime.name} in {venv}: run `make test-colab` first")
    profile = "smoke" if quick else "default"
    rows = []
    for relpath in NOTEBOOKS:
        log("  local stack:")
        local, _ = common.run_notebook(relpath, profile, work_dir / "local", log)
        log(f"  Colab replica {runtime.name}:")
        with _kernels_on(kernels):
            colab, _ = common.run_notebook(relpath, profile, work_dir / f"colab-{runtime.name}", log)
        rows.append({"path": relpath, "local": _row(local), "colab": _row(colab)})
    local_versions = {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
                      "keras": keras.__version__, "numpy": numpy.__version__, "ipython": IPython.__version__}
    colab_versions = {"python": runtime.python, **{p: runtime.pins.get(p, "?") for p in VERSIONS}}
    return {"profile": profile, "runtime": runtime.name, "label": runtime.label, "source": runtime.source,
            "local_versions": local_versions, "colab_versions": colab_versions, "notebooks": rows}


def _stack(versions):
    return (f"Python {versions['python']}, TF {versions['tensorflow']}, Keras {versions['keras']}, "
            f"NumPy {versions['numpy']}, IPython {versions['ipython']}")


def render(section, figures_rel):
    lines = ["", "## Colab runtimes", "",
             f"`make test-colab` (run by CI) replays the notebooks' setup cell on replicas of Colab's runtimes "
             f"(`.ci/colab/runtimes/`) and runs every notebook there in the smoke profile. Here every solution ran in "
             f"the `{section['profile']}` profile twice in one bench run: on the project's own stack "
             f"({_stack(section['local_versions'])}) and on the replica of Colab's {section['label']} runtime "
             f"`{section['runtime']}` ({section['source']}; {_stack(section['colab_versions'])}).",
             "", "| notebook | own stack | Colab replica |", "|---|---|---|"]
    for row in section["notebooks"]:
        local, colab = row["local"], row["colab"]
        lines.append(f"| {row['path']} | `{' '.join(local['headline'])}` ({local['seconds']:.0f} s) "
                     f"| `{' '.join(colab['headline'])}` ({colab['seconds']:.0f} s) |")
    lines += ["", common.stamp(section)]
    return lines
