"""Lab 2 part 2: a seed means a result.

The debiasing notebook, run twice in the smoke profile with one seed (two fresh kernels), must
record the same numbers for every model: the face recall of each group, the lighter − darker gap
and, unrounded, the mean face probability of each group. The probabilities move with every weight
(a recall changes only when a face crosses the threshold), so a model that starts from other
weights or sees other batches shows up here even when its recalls happen to agree.
"""

import math

from mdl_tools import notebooks, runner

NOTEBOOK = "lab2/solutions/Part2_Debiasing_Solution.ipynb"
MODELS = ("cnn", "vae", "dbvae", "oracle")


def fingerprint(record):
    """The recorded numbers that must repeat: per model, group recalls, gap and mean probabilities."""
    keys = sorted(k for k in record if k.startswith(MODELS) and ("_recall_" in k or "_probability_" in k or k.endswith("_gap")))
    assert keys, f"the notebook recorded none of the per-model numbers this test compares; it recorded {sorted(record)}"
    for model in MODELS:
        assert sum(k.startswith(f"{model}_probability_") for k in keys) == 4, f"{model}: expected 4 group probabilities in {keys}"
    return {k: record[k] for k in keys}


def differences(first, second):
    return {k: (first[k], second[k]) for k in first if first[k] != second[k]}


def run_twice(notebook, root, out_dir, first=None):
    """Two smoke runs of ``notebook`` (``first``: a run already made); returns their fingerprints."""
    results = [first] if first is not None else []
    while len(results) < 2:
        results.append(runner.run_notebook(root / notebook, "smoke", out_dir / f"run{len(results)}", root, cell_timeout=600))
    for result in results:
        assert result.status == "ok", f"{notebook} failed in the smoke profile:\n{result.error}"
    return [fingerprint(result.result) for result in results]


def test_one_seed_gives_the_same_numbers_twice(smoke_run, tmp_path):
    root = notebooks.find_root(__file__)
    first, second = run_twice(NOTEBOOK, root, tmp_path, first=smoke_run(NOTEBOOK))
    # the probabilities are real measurements, not constants: each lies strictly inside (0, 1)
    assert all(0.0 < v < 1.0 for k, v in first.items() if "_probability_" in k), first
    assert all(math.isfinite(v) for v in first.values())
    assert first == second, f"the same seed gave other numbers in a second run: {differences(first, second)}"
