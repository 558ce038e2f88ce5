"""The Gradescope autograder: the same grader, packed in the layout Gradescope expects.

The zip holds ``setup.sh`` (run once, when Gradescope builds the autograder's image),
``run_autograder`` (run for each submission; Gradescope unpacks the zip into
``/autograder/source``, puts the student's files in ``/autograder/submission`` and reads
``/autograder/results/results.json``) and the course sources the grader needs: the student
package, the instructor tooling and the one lab's solution notebook.
"""

import pathlib
import zipfile

from .. import notebooks as _notebooks

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
apt-get update -q
apt-get install -y -q python3 python3-venv util-linux
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -r requirements.txt
/autograder/venv/bin/pip install -q --no-deps -e . -e ./mdl_tools
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it and write results/results.json.
# AUTOGRADER and MDL_PYTHON let a test run it outside Gradescope, in a folder standing in for /autograder.
set -euo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
PYTHON="${{MDL_PYTHON:-$AUTOGRADER/venv/bin/python}}"
cd "$AUTOGRADER/source"
# the submission and the solution stay the grader's: readable by root alone
chmod -R go-rwx "$AUTOGRADER/submission" {solutions}
mkdir -p "$AUTOGRADER/results"
export MDL_OFFLINE=1 MDL_DATA_DIR="$AUTOGRADER/source/data"
"$PYTHON" -m mdl_tools.grade "$AUTOGRADER/submission" --lab {lab} --workers 1 \\
    --out "$AUTOGRADER/grading" --gradescope-results "$AUTOGRADER/results/results.json"
"""

# What the grader needs from the checkout, besides the lab's solution notebook.
SOURCES = ("pyproject.toml", "setup.py", "requirements.txt", "README.md", "mitdeeplearning", "mdl_tools",
           "data/README.md")


def write_bundle(root, notebook, out_dir):
    """Write ``out_dir/gradescope_<name>.zip`` for the student notebook ``notebook``; return its path."""
    root = pathlib.Path(root).resolve()
    solution = _notebooks.solution_path(root / notebook if not pathlib.Path(notebook).is_absolute() else notebook)
    if not solution.is_file():
        raise ValueError(f"{notebook}: no solution notebook {solution.name} beside it in solutions/; "
                         "name a lab's student notebook, e.g. lab1/Part1_TensorFlow.ipynb")
    _notebooks.build_pair(solution, root)  # refuse a solution that build would refuse
    lab = _notebooks.student_path(solution).relative_to(root).as_posix()
    solutions_rel = solution.parent.relative_to(root).as_posix()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"gradescope_{pathlib.Path(lab).stem}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        _add_script(bundle, "setup.sh", SETUP_SH)
        _add_script(bundle, "run_autograder", RUN_AUTOGRADER.format(lab=lab, solutions=solutions_rel))
        bundle.write(solution, solution.relative_to(root).as_posix())
        for name in SOURCES:
            source = root / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for file in files:
                rel = file.relative_to(root)
                if "__pycache__" in rel.parts or ".egg-info" in str(rel) or file.suffix in (".pyc", ".h5"):
                    continue
                bundle.write(file, rel.as_posix())
    return path


def _add_script(bundle, name, text):
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o100755 << 16  # executable, as Gradescope runs them
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)
