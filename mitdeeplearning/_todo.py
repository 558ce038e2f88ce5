"""Bring an unwritten TODO into view when "Run All" stops at it.

JupyterLab's Run All scrolls to the notebook's last cell at once; when the first unwritten TODO
stops the run (``raise NotImplementedError("TODO 1: …")``), the error sits screens above the
view. ``import mitdeeplearning`` in a notebook kernel registers a handler for that one exception
type: it shows the usual traceback, preceded by an invisible output whose script scrolls it into
view (where the front end runs scripts of outputs; elsewhere the output is just ignored). Any other NotImplementedError is shown as usual; outside a kernel nothing is installed.

Two library errors that students meet in their own line, before any check can speak, get one more
line under the usual traceback that names the fix (:data:`HINTS`); every other error is shown as usual.
"""

import re
import sys
import traceback

# (exception type, message pattern, a file the traceback must pass through or None, the fix)
HINTS = (
    (TypeError, re.compile(r"'\w+' object is not iterable"), "sequential.py",
     "keras.Sequential takes a LIST of layers: keras.Sequential([layer]), or keras.Sequential([first, second, ...])"),
    (NameError, re.compile(r"name 'cnn_history' is not defined"), None,
     "keep the History that fit returns: cnn_history = cnn_model.fit(train_images, train_labels, ...)"),
    (ValueError, re.compile(r"No gradients provided for any variable"), None,
     "the loss was computed outside the tape: run the model and compute the loss INSIDE the "
     "`with tf.GradientTape() as tape:` block, then take tape.gradient(loss, variables) after it"),
)

# ``element`` is this output's own node (JupyterLab and Jupyter Notebook pass it to the script).
# JupyterLab may scroll back to the last cell when the run ends, so for two seconds the error is
# kept in view, unless the student scrolls, clicks or types first.
_SCROLL = """
if (typeof element !== 'undefined' && element.scrollIntoView) {
  let stop = false;
  const until = Date.now() + 2000;
  for (const event of ['wheel', 'keydown', 'mousedown', 'touchstart']) {
    window.addEventListener(event, () => { stop = true; }, {once: true, capture: true});
  }
  const keep = () => {
    if (stop || Date.now() > until) return;
    const box = element.getBoundingClientRect();  // (the script runs before its node is on the page)
    if (element.isConnected && (box.top < 0 || box.top > window.innerHeight - 80)) {
      element.scrollIntoView({block: 'start'});
    }
    requestAnimationFrame(keep);
  };
  keep();
}
"""


def hint_for(value, tb):
    """The fix for a known library error (see :data:`HINTS`), or "" when there is none."""
    files = [frame.filename for frame in traceback.extract_tb(tb)] if tb is not None else []
    for kind, pattern, through, fix in HINTS:
        if isinstance(value, kind) and pattern.search(str(value)) and (through is None or any(f.endswith(through) for f in files)):
            return fix
    return ""


def _show_todo(shell, etype, value, tb, tb_offset=None):
    if isinstance(value, NotImplementedError) and str(value).startswith("TODO "):
        from IPython.display import Javascript, display

        display(Javascript(_SCROLL))
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)  # the usual error output
    hint = hint_for(value, tb)
    if hint:
        print(f"Hint: {hint}", file=sys.stderr)
    return None  # already shown: IPython has nothing more to print


def install():
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no notebook to scroll
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    if NotImplementedError not in tuple(shell.custom_exceptions or ()):
        shell.set_custom_exc((NotImplementedError, *{kind for kind, *_ in HINTS}), _show_todo)
