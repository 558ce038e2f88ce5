"""Grading section of the report: how fast ``mitdeeplearning grade`` grades a class
(``benchmarks/grade_class.py``): a synthetic class of 40 for lab 1 Part 1, a few submissions of every
other lab notebook, each against the notebook run alone, with 2 workers."""

from . import common


def measure(quick, work_dir, figures, log=print):
    return common.run_benchmark("grade_class.py", quick, log)


def render(section, figures_rel):
    rows = section["notebooks"]
    lines = ["", "## Grading a class", "",
             "`mitdeeplearning grade` runs each submission's TODO answers in a fresh copy of the notebook, one "
             f"sandboxed kernel per submission (isolation level here: {section['isolation']}), in the notebook's "
             "`smoke` profile. *Alone* is the solution notebook run headless without the grader; *one* is one right "
             "submission graded with one worker; the class mixes right, wrong, partial and untouched submissions.", "",
             "| notebook | alone | one submission | grader overhead | class | wall time, 2 workers | per submission |",
             "|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['alone']:.1f} s | {m['one']:.1f} s | {m['one'] / m['alone']:.2f}× | "
                     f"{m['size']} | {m['class']:.0f} s ({m['class'] / 60:.1f} min) | {m['class'] / m['size']:.1f} s |")
    lines += ["", common.stamp(section)]
    return lines
