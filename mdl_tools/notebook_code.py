"""Run a solution notebook's own code as a module, so benchmarks and tests measure what students see.

A solution notebook is the one source of every piece of lab code. Cells that define reusable code
carry the cell tag ``reference``: they define functions, classes and constants (the data a lab
works on, a model built from the knobs) and do nothing else. Demos, plots, model summaries and
check calls live in the untagged cell after them, so loading a notebook's code prints nothing,
draws nothing and starts no environment. :func:`load` executes the notebook's ``parameters`` cell
(with overrides injected right after it, as papermill does) and every ``reference`` cell, in
notebook order, in one fresh module namespace::

    code = load("lab2/solutions/Part2_Debiasing_Solution.ipynb", parameters={"seed": 3})
    model = code.DB_VAE(code.latent_dim)

There is no generated copy that could drift from the notebook: the code runs from the notebook
file itself. The notebook's functions take their knobs as arguments, so a caller hands them other
values the way the notebook's own cells do. :func:`parameters` reads the knobs alone, before any
cell after the parameters cell runs (a benchmark that must set TensorFlow's threads first).
"""

import ast
import linecache
import pathlib
import types

import nbformat

TAG = "reference"


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def reference_cells(nb):
    """``(index, cell)`` of the parameters cell and of every cell tagged ``reference``."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and ("parameters" in _tags(cell) or TAG in _tags(cell)):
            yield index, cell


def _run(path, cells, parameters, module):
    """Execute ``cells`` in ``module``; the overrides go in right after the parameters cell."""
    namespace = module.__dict__
    found_parameters = False
    for index, cell in cells:
        filename = f"<{path.name}, cell {index}>"
        # register the source, so that tracebacks show it and tf.function/autograph can read it
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
        exec(compile(cell.source, filename, "exec"), namespace)  # noqa: S102  (the course's own notebook)
        if "parameters" in _tags(cell):
            found_parameters = True
            unknown = sorted(set(parameters or {}) - set(namespace))
            if unknown:
                raise ValueError(f"{path}: the parameters cell defines no {', '.join(unknown)}")
            namespace.update(parameters or {})
    if parameters and not found_parameters:
        raise ValueError(f"{path} has no cell tagged 'parameters' to override")
    return module


def _module(path, name):
    module = types.ModuleType(name or f"notebook_{path.stem}")
    module.__file__ = str(path)
    return module


def load(notebook, parameters=None, name=None):
    """Execute ``notebook``'s parameters and ``reference`` cells; return them as a module.

    ``parameters`` overrides names of the parameters cell; a name that cell does not define is an
    error (a typo would otherwise be ignored silently).
    """
    path = pathlib.Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = list(reference_cells(nb))
    if not any(TAG in _tags(cell) for _, cell in cells):
        raise ValueError(f"{path} has no cell tagged {TAG!r}: tag the cells that define the lab's code")
    return _run(path, cells, parameters, _module(path, name))


def run_cells(notebook, parameters=None, through=None, edits=None, name=None):
    """Execute ``notebook``'s code cells from the top, as a kernel runs them; return them as a module.

    Where :func:`load` runs the reference cells alone, this runs every code cell (demos, checks,
    training, the answers written in TODO cells): for a benchmark or test that needs what a run of
    the notebook computes, such as the loss curve of a ``model.fit`` that a TODO cell holds.
    ``parameters`` overrides the parameters cell as in :func:`load`. ``through``: stop after the
    first code cell whose source contains this text. ``edits``: ``[(old, new), ...]``, each replaced
    in the one code cell that holds ``old`` once: how a test runs the notebook with a mistake in it.
    Text that ``through`` or an edit names but no cell holds (or several cells hold) is an error, so
    an edit can never be silently skipped. What the cells print goes to the caller's stdout; outside
    a notebook the package's plots draw nothing (they keep their data).
    """
    path = pathlib.Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for old, new in edits or ():
        holders = [cell for _, cell in cells if cell.source.count(old) == 1]
        if len(holders) != 1 or sum(cell.source.count(old) for _, cell in cells) != 1:
            raise ValueError(f"{path}: the edit's text {old!r} must occur once in the notebook's code, "
                             f"it occurs {sum(cell.source.count(old) for _, cell in cells)} times")
        holders[0].source = holders[0].source.replace(old, new)
    if through is not None:
        last = next((k for k, (_, cell) in enumerate(cells) if through in cell.source), None)
        if last is None:
            raise ValueError(f"{path}: no code cell holds {through!r} to run through")
        cells = cells[: last + 1]
    return _run(path, cells, parameters, _module(path, name))


def parameters(notebook, overrides=None):
    """The knobs of ``notebook``'s parameters cell, with ``overrides``, as a dict.

    Only the ``reference`` cells before the parameters cell (its imports) and the parameters cell
    itself run: nothing that the cells after it would start (data, models, TensorFlow's runtime).
    """
    path = pathlib.Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = []
    for index, cell in reference_cells(nb):
        cells.append((index, cell))
        if "parameters" in _tags(cell):
            break
    else:
        raise ValueError(f"{path} has no cell tagged 'parameters'")
    module = _run(path, cells, overrides, _module(path, None))
    tree = ast.parse(cells[-1][1].source)
    names = [target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name)]
    return {name: getattr(module, name) for name in names}
