"""Test-suite section of the report: the last full ``make test`` run, as tests/conftest.py recorded it."""

import json

from . import common


def measure(quick, work_dir, figures, log=print):
    """The last full ``make test`` run (tests/conftest.py records it): not re-run here."""
    record = common.repository_root() / "results" / "test_run.json"
    if not record.is_file():
        log("  no record of a full `make test` run yet (results/test_run.json): run `make test` first")
        return {"recorded": False}
    data = json.loads(record.read_text())
    log(f"  last full `make test`: {data['passed']} passed, {data['failed']} failed in {data['seconds']:.0f} s ({data['date']})")
    return {"recorded": True, **data}


def render(t, figures_rel):
    lines = ["", "## Test suite", ""]
    if t.get("recorded"):
        lines.append(f"The last full `make test` ({t['date']}, {t['cpu_count']} CPU cores): {t['passed']} passed, "
                     f"{t['failed']} failed, {t['skipped']} skipped in {t['seconds']:.0f} s ({t['seconds'] / 60:.1f} min).")
    else:
        lines.append("No full `make test` run was recorded on this machine before this report was made.")
    return lines
