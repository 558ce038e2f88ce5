"""In a notebook, an unwritten TODO (NotImplementedError "TODO n: …") is shown as the usual error,
after an output whose script brings it into view; other errors are left as they are."""

import nbformat
from nbclient import NotebookClient


def _run(*sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True).execute()
    return [c.outputs for c in nb.cells]


def test_todo_error_comes_with_a_scroll_and_keeps_its_traceback():
    _, todo, other, fine = _run(
        "import mitdeeplearning",
        "raise NotImplementedError('TODO 1: write me')",
        "raise NotImplementedError('not a TODO')",
        "print('still running')",
    )
    kinds = [(o.output_type, "application/javascript" in o.get("data", {})) for o in todo]
    assert kinds == [("display_data", True), ("error", False)], todo
    assert todo[1].ename == "NotImplementedError" and todo[1].evalue == "TODO 1: write me"
    assert "scrollIntoView" in todo[0].data["application/javascript"]
    assert [o.output_type for o in other] == ["error"] and other[0].evalue == "not a TODO"
    assert fine[0].text == "still running\n"
