"""Grading speed: a synthetic class per lab notebook, graded as `mitdeeplearning grade` does; printed.

    sudo .venv/bin/python -m benchmarks.grade_class [--size 40] [--workers 2] [--only lab1/Part1_TensorFlow.ipynb]
    sudo .venv/bin/python -m benchmarks.grade_class --quick     # 4 submissions of lab 1 Part 1: tests the script

Run it from the checkout's root, as a module (or through ``mitdeeplearning bench --only grading``):
it builds its classes with the test suite's ``tests.grading.classroom``, which the root makes
importable.

For each lab notebook it prints:

* the notebook alone: its solution run headless in the profile (``mitdeeplearning run``), no sandbox;
* seconds per submission: one right submission graded with one worker (sandbox, kernel, checks);
* the grader's overhead: that against the notebook alone;
* the class: ``--size`` submissions (mostly right, some partial, some untouched, and for lab 1
  Part 1 the catalogued mistakes) graded with ``--workers`` workers, its wall time and the count line.

Its numbers are timings: run it on an otherwise idle machine, as root (the sandbox the grader uses
in production needs root; without it the grader runs with limits only and says so).
"""

import argparse
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MDL_OFFLINE", "1")

from mdl_tools import grade, runner  # noqa: E402

try:
    from tests.grading import classroom  # noqa: E402
except ModuleNotFoundError as exc:
    raise SystemExit("benchmarks/grade_class.py imports tests.grading.classroom: run it from the checkout's root "
                     "as `python -m benchmarks.grade_class`") from exc

ROOT = pathlib.Path(__file__).resolve().parents[1]


def make_class(template, folder, size):
    """``size`` submissions: 60 % right, 20 % with mistakes or half done, 20 % untouched beyond TODO 1."""
    right = classroom.all_solutions(template)
    numbers = sorted(right)
    for i in range(size):
        kind = i % 5
        if kind in (0, 1, 2):
            answers = right
        elif kind == 3 and template.name == "lab1/Part1_TensorFlow.ipynb":
            answers = {**right, **classroom.MISTAKES}
        elif kind == 3:
            answers = {n: right[n] for n in numbers[: len(numbers) // 2]}
        else:
            answers = {numbers[0]: right[numbers[0]]}
        classroom.write(classroom.fill(template, answers, colab=i % 2 == 0), folder / f"student{i:02d}.ipynb")
    return sorted(folder.glob("*.ipynb"))


def measure(template, size, workers, profile, base):
    folder = base / pathlib.Path(template.name).stem
    (folder / "class").mkdir(parents=True)
    files = make_class(template, folder / "class", size)

    start = time.perf_counter()
    alone = runner.run_notebook(template.solution_path, profile, base / "alone", ROOT)
    alone_s = time.perf_counter() - start
    if alone.status != "ok":
        raise SystemExit(f"{template.name}: the solution notebook itself failed:\n{alone.error}")

    one = grade.Grader(ROOT, [template], folder / "one", profile=profile, submissions=files[:1])
    results, one_s = grade.grade_class(one, files[:1], workers=1, progress=False)
    if results[0]["total"] != results[0]["max_points"]:
        raise SystemExit(f"{template.name}: a right submission was not given full marks: {results[0]}")

    grader = grade.Grader(ROOT, [template], folder / "out", profile=profile, submissions=files)
    results, class_s = grade.grade_class(grader, files, workers=workers, progress=True)
    return {"alone": alone_s, "one": one_s, "class": class_s, "line": grade.count_line(results, class_s),
            "level": grader.level}


#: What the report measures: a class of ``CLASS_SIZE`` for the first notebook, and a few
#: submissions of every other lab notebook for its seconds per submission.
CLASS_NOTEBOOK, CLASS_SIZE, OTHER_SIZE = "lab1/Part1_TensorFlow.ipynb", 40, 4


def grade_notebooks(sizes, workers, profile="smoke", log=print):
    """``{notebook: measurements}`` for each ``notebook: class size`` of ``sizes``."""
    rows = {}
    with tempfile.TemporaryDirectory(prefix="mdl-grade-bench-") as base:
        os.chmod(base, 0o711)
        for name, size in sizes.items():
            for template in grade.load_templates(ROOT, name):
                m = measure(template, size, workers, profile, pathlib.Path(base))
                m.update(size=size, workers=workers, profile=profile)
                rows[template.name] = m
                log(f"{template.name}: {m['line']}")
    return rows


def run(quick=False):
    """The report's numbers (``mitdeeplearning bench --only grading``): see ``CLASS_SIZE``."""
    if quick:
        sizes = {CLASS_NOTEBOOK: 4}
    else:
        names = [t.name for t in grade.load_templates(ROOT, None)]
        sizes = {name: CLASS_SIZE if name == CLASS_NOTEBOOK else OTHER_SIZE for name in names}
    rows = grade_notebooks(sizes, workers=2)
    return {"notebooks": rows, "isolation": next(iter(rows.values()))["level"], "cpu_count": os.cpu_count()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=40, help="submissions per lab (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--only", help="comma-separated student notebooks (default: every lab notebook)")
    parser.add_argument("--quick", action="store_true", help="4 submissions of lab 1 Part 1")
    args = parser.parse_args()
    if args.quick:
        args.size, args.only = 4, CLASS_NOTEBOOK
    names = args.only.split(",") if args.only else [t.name for t in grade.load_templates(ROOT, None)]
    rows = grade_notebooks({name: args.size for name in names}, args.workers, args.profile)
    print()
    print(f"| notebook ({args.profile}) | notebook alone | per submission (1 worker) | overhead | "
          f"class of {args.size}, {args.workers} workers | per submission in the class |")
    print("|---|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['alone']:.1f} s | {m['one']:.1f} s | {m['one'] / m['alone']:.2f}× | "
              f"{m['class']:.0f} s | {m['class'] / args.size:.1f} s |")
    print(f"\nisolation: {next(iter(rows.values()))['level'] if rows else '-'}; {os.cpu_count()} CPU cores")


if __name__ == "__main__":
    main()
