"""The cells tagged ``reference`` define and do nothing else, and the notebooks' functions take their
knobs as arguments.

Benchmarks and tests load a solution notebook's reference cells with ``mdl_tools.notebook_code``
(the one loader); that must be cheap and quiet: no output, no figure, no environment. Every
function a notebook defines reads no name of its parameters cell as a global, so a caller hands
it other values the way the notebook's own cells do.
"""

import ast
import symtable

import matplotlib
import nbformat
import pytest

from mdl_tools import notebook_code, notebooks, runner

matplotlib.use("Agg")

ROOT = notebooks.find_root(__file__)
SOLUTIONS = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("lab*/solutions/*_Solution.ipynb"))


def test_every_solution_notebook_is_covered():
    assert len(SOLUTIONS) == 5, SOLUTIONS


@pytest.fixture
def watched(monkeypatch):
    """Records every figure shown and every environment made while a test runs."""
    import gymnasium
    import matplotlib.pyplot as plt

    events = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: events.append("plt.show()"))
    for name in ("make", "make_vec"):
        real = getattr(gymnasium, name)

        def made(*args, _name=name, _real=real, **kwargs):
            events.append(f"gymnasium.{_name}{args}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(gymnasium, name, made)
    plt.close("all")
    yield events
    plt.close("all")


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_loading_reference_code_prints_draws_and_starts_nothing(relpath, watched, capsys):
    import matplotlib.pyplot as plt

    path = ROOT / relpath
    smoke = runner.profile_overrides(nbformat.read(path, as_version=4), "smoke")
    notebook_code.load(path, parameters=smoke)  # a first load may fill the data caches (and say so)
    capsys.readouterr()
    watched.clear()
    plt.close("all")

    notebook_code.load(path, parameters=smoke)
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", f"{relpath}: loading its reference cells printed:\n{out.out}{out.err}"
    assert plt.get_fignums() == [], f"{relpath}: loading its reference cells created {len(plt.get_fignums())} figure(s)"
    assert watched == [], f"{relpath}: loading its reference cells did {watched}"


def _parameter_names(nb):
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {t.id for node in ast.parse(cell.source).body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}


def _globals_read(table, where=()):
    """``(function path, name)`` for every global name a function (or method) reads, nested ones too."""
    found = []
    for child in table.get_children():
        path = where + (child.get_name(),)
        if child.get_type() == "function":
            found += [(".".join(path), s.get_name()) for s in child.get_symbols() if s.is_global() and s.is_referenced()]
        found += _globals_read(child, path)
    return found


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_no_notebook_function_reads_a_knob_as_a_global(relpath):
    nb = nbformat.read(ROOT / relpath, as_version=4)
    knobs = _parameter_names(nb)
    reads = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("!", "%")))
        table = symtable.symtable(source, f"cell {index}", "exec")
        reads += [f"cell {index}: {function} reads {name}" for function, name in _globals_read(table) if name in knobs]
    assert not reads, f"{relpath}: pass these knobs as arguments instead:\n" + "\n".join(reads)
