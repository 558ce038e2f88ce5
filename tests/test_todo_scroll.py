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


def test_two_first_week_library_errors_get_a_hint_and_others_do_not():
    _, sequential, tape, other = _run(
        "import mitdeeplearning, keras, tensorflow as tf",
        "keras.Sequential(keras.layers.Dense(2))",
        "x = tf.Variable(1.0)\nloss = x * x\nwith tf.GradientTape() as t:\n    pass\n"
        "keras.optimizers.SGD().apply_gradients(zip(t.gradient(loss, [x]), [x]))",
        "for item in 3: pass",
    )
    for outputs, words in [(sequential, "takes a LIST of layers"), (tape, "outside the tape")]:
        kinds = [o.output_type for o in outputs]
        assert kinds == ["error", "stream"], outputs
        assert outputs[1].name == "stderr" and words in outputs[1].text
    assert [o.output_type for o in other] == ["error"] and "not iterable" in other[0].evalue
