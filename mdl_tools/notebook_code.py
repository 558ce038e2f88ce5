"""Run a solution notebook's own code as a module, so benchmarks and tests measure what students see.

A solution notebook is the one source of every piece of lab code. Cells that define reusable code
carry the cell tag ``reference``; :func:`load` executes the notebook's ``parameters`` cell (with
overrides injected right after it, as papermill does) and every ``reference`` cell, in notebook
order, in one fresh module namespace::

    rl = load("lab3/solutions/RL_Solution.ipynb", parameters={"seed": 3})
    model = rl.create_pong_model()

There is no generated copy that could drift from the notebook: the code runs from the notebook
file itself. The checks inside those cells run too, so a broken solution fails here as well.
"""

import linecache
import pathlib
import types

import nbformat

TAG = "reference"


def reference_cells(nb):
    """``(index, cell)`` of the parameters cell and of every cell tagged ``reference``."""
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and ("parameters" in tags or TAG in tags):
            yield index, cell


def load(notebook, parameters=None, name=None):
    """Execute ``notebook``'s parameters and ``reference`` cells; return them as a module.

    ``parameters`` overrides names of the parameters cell; a name that cell does not define is an
    error (a typo would otherwise be ignored silently).
    """
    path = pathlib.Path(notebook)
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(name or f"notebook_{path.stem}")
    module.__file__ = str(path)
    namespace = module.__dict__
    found_parameters = False
    cells = list(reference_cells(nb))
    if not any(TAG in cell.metadata.get("tags", []) for _, cell in cells):
        raise ValueError(f"{path} has no cell tagged {TAG!r}: tag the cells that define the lab's code")
    for index, cell in cells:
        filename = f"<{path.name}, cell {index}>"
        # register the source, so that tracebacks show it and tf.function/autograph can read it
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
        code = compile(cell.source, filename, "exec")
        exec(code, namespace)  # noqa: S102  (the course's own notebook)
        if "parameters" in cell.metadata.get("tags", []):
            found_parameters = True
            unknown = sorted(set(parameters or {}) - set(namespace))
            if unknown:
                raise ValueError(f"{path}: the parameters cell defines no {', '.join(unknown)}")
            namespace.update(parameters or {})
    if parameters and not found_parameters:
        raise ValueError(f"{path} has no cell tagged 'parameters' to override")
    return module
