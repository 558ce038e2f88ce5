"""A synthetic class for the grader's tests and benchmark, generated from the lab notebooks.

Every submission is the student copy that ``build`` generates, with chosen code written into its
TODO regions (the solution's, a catalogued mistake's, or a hostile one), saved the ways students
save notebooks (Colab downloads with outputs, re-saved with other metadata, renamed).
"""

import copy
import textwrap

import nbformat

from mdl_tools.grading import submission as _submission


def solution_code(template, number):
    todo = next(t for t in template.todos if t.number == number)
    return list(todo.solution_lines)


def fill(template, answers, colab=False):
    """The student copy with each stub in ``answers`` ({TODO: code}) replaced by that code.

    Code is written at the stub's indentation; a TODO absent from ``answers`` keeps its stub.
    ``colab`` adds what a Colab download carries: outputs, execution counts, Colab metadata.
    """
    nb = copy.deepcopy(template.student)
    for todo in template.todos:
        if todo.number not in answers:
            continue
        stub = "\n".join(todo.stub_lines)
        indent = todo.stub_lines[0][: len(todo.stub_lines[0]) - len(todo.stub_lines[0].lstrip())]
        code = answers[todo.number]
        code = "\n".join(code) if isinstance(code, list) else textwrap.indent(textwrap.dedent(code).strip("\n"), indent)
        cell = next(c for c in nb.cells if c.cell_type == "code" and stub in c.source)
        cell.source = cell.source.replace(stub, code)
    if colab:
        nb.metadata["colab"] = {"provenance": [], "name": "Part1_TensorFlow.ipynb"}
        nb.metadata["accelerator"] = "GPU"
        for n, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.execution_count = n + 1
            cell.metadata["id"] = f"cell{n}"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✔ looks right\n")]
    return nb


def all_solutions(template):
    return {t.number: solution_code(template, t.number) for t in template.todos}


def write(nb, path):
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def template_for(root, name="lab1/Part1_TensorFlow.ipynb"):
    from mdl_tools.grade import load_templates

    return load_templates(root, name)[0]
