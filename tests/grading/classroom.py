"""A synthetic class for the grader's tests and benchmark, generated from the lab notebooks.

Every submission is the student copy that ``build`` generates, with chosen code written into its
TODO regions (the solution's, a catalogued mistake's, or a hostile one), saved the ways students
save notebooks (Colab downloads with outputs, re-saved with other metadata, renamed).
"""

import copy
import textwrap

import nbformat


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


# Catalogued mistakes of lab 1 Part 1, as students type them into the regions (TODO: code, status).
MISTAKES = {
    1: "matrix = tf.constant([1.0, 2.0, 3.0])",  # a vector, not a matrix
    2: "images = tf.zeros([256, 256, 3])",  # forgot the batch dimension
    3: "c = tf.add(a, b)\nd = tf.subtract(b, 1)\ne = c",  # returned c
    5: "model = keras.Sequential([keras.layers.Dense(1)])",  # one output, not n_output_nodes
    8: "with tf.GradientTape() as tape:\n    y = x * x\ndy_dx = 2.0",  # a number, not the tape's gradient
    9: "with tf.GradientTape() as tape:\n    loss = (x - x_f) ** 2\ngrads = tape.gradient(loss, x)",  # never applied
}

# Hostile answers the screen refuses before they run: (code, expected status).
SCREENED = {
    1: ("mdl.lab1.check_matrix = lambda m: None\nmatrix = tf.constant([1.0])", "tampered"),
    2: ("import os\nos.kill(os.getppid(), 9)\nimages = tf.zeros([10, 256, 256, 3])", "refused"),
    3: ("import socket\nsocket.create_connection(('example.com', 80))\ne = (a + b) * (b - 1)", "refused"),
    4: ("tf.math.sigmoid = lambda z: z\ny = tf.math.sigmoid(tf.matmul(x, self.W) + self.b)", "tampered"),
    5: ("import mitdeeplearning.checks as c\nc.require = lambda *a, **k: None\nmodel = None", "tampered"),
    6: ("import os\nos._exit(0)", "refused"),
    7: ("return type(self).__mro__[0].__dict__", "tampered"),
    8: ("dy_dx = tf.constant(6.0)\nprint('✔ check_gradient passed')", "pass"),  # right, and a harmless ✔
    9: ("import os\nos.fork()", "refused"),
}


def hostile_runtime(root, subs, out):
    """Answers that pass the screen and misbehave while they run: (code, expected status) per TODO."""
    solution = f"{root}/lab1/solutions/Part1_TensorFlow_Solution.ipynb"
    return {
        1: (f"matrix = tf.constant([[1.0, 2.0], [3.0, 4.0]])\nleak = tf.io.read_file({solution!r})", "error"),
        2: (f"images = tf.zeros([10, 256, 256, 3])\nleak = tf.io.read_file({str(subs / 'right.ipynb')!r})", "error"),
        # the check calls func, which allocates until the address-space limit: MemoryError
        3: ("chunks = []\nwhile True:\n    chunks.append(np.zeros(10**8))", "fail"),
        4: ("block = np.ones(5 * 10**6)\nfor i in range(20):\n    np.save(f'fill{i}.npy', block)", "fail"),  # disk full
        5: ("print('x' * 20_000_000)\nmodel = keras.Sequential([keras.layers.Dense(n_output_nodes)])", "pass"),
        6: ("while True:\n    pass", "error"),
        7: ("np.save('huge.npy', np.zeros(10**8))", "fail"),  # over the file-size limit: the write fails
        8: (f"tf.io.write_file({str(out / 'results.json')!r}, 'all passed')\ndy_dx = tf.constant(6.0)", "error"),
        9: (None, "pass"),  # the solution: graded as usual after a lost kernel
    }


def make_class(template, folder, root, out):
    """Write the synthetic class into ``folder``; return ``{file name: {TODO: expected status}}``."""
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [t.number for t in template.todos]
    expected = {}
    right = all_solutions(template)
    write(fill(template, right, colab=True), folder / "right.ipynb")
    expected["right.ipynb"] = {n: "pass" for n in numbers}

    mistakes = {**right, **MISTAKES}
    nb = fill(template, mistakes)
    nb.cells[-1].source += "\nprint('my own line')"  # an edit outside the regions: reported, not run
    write(nb, folder / "Mistakes - Lab 1 (1).ipynb")
    expected["Mistakes - Lab 1 (1).ipynb"] = {n: "fail" if n in MISTAKES else "pass" for n in numbers}

    partial = {n: right[n] for n in numbers[:4]}
    nb = fill(template, partial)
    nb.nbformat_minor = 5  # saved again by JupyterLab: cell ids, its own language_info
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"jl-{n}"
    nb.metadata["language_info"] = {"name": "python", "version": "3.12.1"}
    write(nb, folder / "partial.ipynb")
    expected["partial.ipynb"] = {n: "pass" if n <= 4 else "not attempted" for n in numbers}

    screened = {n: code for n, (code, _) in SCREENED.items()}
    write(fill(template, screened), folder / "screened.ipynb")
    expected["screened.ipynb"] = {n: status for n, (_, status) in SCREENED.items()}

    runtime = hostile_runtime(root, folder, out)
    write(fill(template, {n: (code if code is not None else right[n]) for n, (code, _) in runtime.items()}),
          folder / "runtime.ipynb")
    expected["runtime.ipynb"] = {n: status for n, (_, status) in runtime.items()}

    (folder / "essay.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    expected["essay.pdf"] = None
    return expected


# Run with the screen off, to show what the sandbox does with code the screen would refuse.
UNSCREENED = {
    # the notebook's check is rebound: the grader calls the one it kept, and sees the change
    1: ("mdl.lab1.check_matrix = lambda m: None\nmatrix = tf.constant([1.0])", "tampered"),
    # a helper of every check is patched: seen, put back, the next TODOs judged by the real checks
    3: ("mdl.checks.require = lambda *a, **k: None\ne = c", "tampered"),
    8: ("import os\nos.kill(os.getppid(), 9)\nos._exit(0)", "error"),  # the kernel can only end itself
}
