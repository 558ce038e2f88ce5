"""Test-suite section of the report: the last full ``make test`` run, as tests/conftest.py recorded it."""

import json

from . import common


def record_path():
    """Where tests/conftest.py writes the record of a whole-suite run."""
    return common.repository_root() / "results" / "test_run.json"


def measure(quick, work_dir, figures, log=print):
    """The last full ``make test`` run: read from its record, not re-run here.

    The record goes under ``"run"``: the dispatcher stamps every section with its own
    ``seconds`` (here the instant it took to read a file), which must not replace the suite's.
    """
    record = record_path()
    if not record.is_file():
        log(f"  no record of a full `make test` run yet ({record}): run `make test` first")
        return {"recorded": False}
    run = json.loads(record.read_text())
    log(f"  last full `make test`: {run['passed']} passed, {run['failed']} failed in {run['seconds']:.0f} s ({run['date']})")
    return {"recorded": True, "run": run}


def render(section, figures_rel):
    lines = ["", "## Test suite", ""]
    if section.get("recorded"):
        t = section["run"]
        lines.append(f"The last full `make test` ({t['date']}, {t['cpu_count']} CPU cores): {t['passed']} passed, "
                     f"{t['failed']} failed, {t['skipped']} skipped in {t['seconds']:.0f} s ({t['seconds'] / 60:.1f} min).")
    else:
        lines.append("No full `make test` run was recorded on this machine before this report was made.")
    return lines
