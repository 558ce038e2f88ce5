"""What grading writes: the class table (CSV), one HTML page per student, the instructor's summary,
and Gradescope's results.json."""

import collections
import csv
import html
import json
import pathlib

STATUS_WORDS = {
    "pass": "✔ passed", "fail": "✘ failed", "error": "✘ error", "not attempted": "– not attempted",
    "missing": "– cell missing", "refused": "✘ refused", "tampered": "✘ tampered", "not run": "– not run",
    "syntax": "✘ syntax error",
}


def write_csv(results, path):
    """One row per submission: its points per TODO, total, maximum, status and flags."""
    width = max((len(r["todos"]) for r in results), default=0)
    fields = ["student", "file", "notebook", *[f"todo_{n}" for n in range(1, width + 1)], "total", "max_points",
              "status", "flags"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        for r in results:
            row = {"student": _cell(r["student"]), "file": _cell(r["file"]), "notebook": r["notebook"],
                   "total": _num(r["total"]), "max_points": _num(r["max_points"]), "status": r["status"],
                   "flags": "; ".join(r["flags"])}
            for todo in r["todos"]:
                row[f"todo_{todo['number']}"] = _num(todo["points"])
            writer.writerow(row)


def _cell(text):
    """A file name as a spreadsheet cell: one that starts like a formula (=, +, -, @) is quoted, so
    that opening the table in a spreadsheet never runs a student's file name."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _num(value):
    return int(value) if float(value).is_integer() else round(value, 2)


def write_student_html(result, path):
    """A short page for one student: each TODO's result and the hint they would have seen."""
    rows = "\n".join(
        f"<tr class='{html.escape(t['status'].replace(' ', '-'))}'><td>TODO {t['number']}</td>"
        f"<td>{html.escape(STATUS_WORDS.get(t['status'], t['status']))}</td>"
        f"<td>{_num(t['points'])} / {_num(t['max_points'])}</td><td>{html.escape(t['message'])}</td></tr>"
        for t in result["todos"])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result["edits"][:30])
    edits = (f"<h2>Changes outside the TODO regions (not run)</h2><ul>{notes}</ul>" if notes else "")
    problem = f"<p class='problem'>{html.escape(result['problem'])}</p>" if result.get("problem") else ""
    path.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(result['student'])}: {html.escape(result['notebook'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} td{{padding:.3em .6em;vertical-align:top}}
tr.pass td:nth-child(2){{color:#070}} tr.fail td:nth-child(2),tr.error td:nth-child(2){{color:#a00}}
.problem{{color:#a00}}</style></head><body>
<h1>{html.escape(result['notebook'] or result['file'])}</h1>
<p>{html.escape(result['student'])} · {_num(result['total'])} / {_num(result['max_points'])} points</p>
{problem}<table><tr><th>TODO</th><th>result</th><th>points</th><th>hint</th></tr>
{rows}</table>{edits}</body></html>
""", encoding="utf-8")


def summary(results, isolation, seconds):
    """The instructor's summary (markdown): which TODOs fail most and with which hints, and flags."""
    lines = [f"# Grading summary: {len(results)} submission(s)", "",
             f"Isolation: **{isolation}**. Time: {seconds:.0f} s.", ""]
    by_todo = collections.defaultdict(list)
    for r in results:
        for t in r["todos"]:
            by_todo[(r["notebook"], t["number"])].append(t)
    lines += ["| notebook | TODO | passed | failed | error | not attempted | refused/tampered | most common hints |",
              "|---|---|---|---|---|---|---|---|"]
    ranked = sorted(by_todo.items(), key=lambda kv: -sum(t["status"] != "pass" for t in kv[1]))
    for (notebook, number), todos in ranked:
        counts = collections.Counter(t["status"] for t in todos)
        hints = collections.Counter(t["message"].splitlines()[0][:120] for t in todos
                                    if t["status"] in ("fail", "error") and t["message"])
        common = "<br>".join(f"{n}× {html.escape(h)}" for h, n in hints.most_common(3))
        skipped = counts["not attempted"] + counts["missing"]
        barred = counts["refused"] + counts["tampered"]
        lines.append(f"| {notebook} | {number} | {counts['pass']} | {counts['fail']} | {counts['error']} | "
                     f"{skipped} | {barred} | {common} |")
    flagged = [r for r in results if r["flags"]]
    if flagged:
        lines += ["", "## Flagged submissions", ""]
        lines += [f"- **{r['student']}** ({r['file']}): {'; '.join(r['flags'])}" for r in flagged]
    broken = [r for r in results if r["status"] != "graded"]
    if broken:
        lines += ["", "## Not graded", ""]
        lines += [f"- **{r['student']}**: {r['problem']}" for r in broken]
    return "\n".join(lines) + "\n"


def gradescope_results(result):
    """Gradescope's results.json for one submission: a test per TODO, and the total."""
    tests = [{
        "name": f"TODO {t['number']}",
        "score": t["points"],
        "max_score": t["max_points"],
        "status": "passed" if t["status"] == "pass" else "failed",
        "output": f"{STATUS_WORDS.get(t['status'], t['status'])}" + (f": {t['message']}" if t["message"] else ""),
    } for t in result["todos"]]
    output = result.get("problem") or f"{result['notebook']}: {_num(result['total'])} / {_num(result['max_points'])}"
    if result["edits"]:
        output += "\nChanges outside the TODO regions were not run:\n" + "\n".join(result["edits"][:20])
    return {"score": result["total"], "output": output, "tests": tests}


def write_json(data, path):
    pathlib.Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
