"""Keep TensorFlow's start-up log out of the notebook, and nothing else.

When TensorFlow loads, its C++ core writes a dozen lines straight to file descriptor 2 (oneDNN,
"Could not find cuda drivers", CPU instruction sets, later "failed call to cuInit" on a machine
without a GPU). Most of them come before its logging reads ``TF_CPP_MIN_LOG_LEVEL``, so that
variable cannot hide them; a notebook shows them as a pink block on the normal CPU path.

``import mitdeeplearning`` installs a one-shot import hook: when ``tensorflow`` is first imported
(by the notebook, by Keras, by this package), the import runs with descriptor 2 captured. Lines
known to be start-up noise (:data:`NOISE`) are dropped; every other line is written back to
stderr, so a real problem (a broken install, a missing library) still shows.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# Start-up messages of TensorFlow / XLA / CUDA that carry no information for a student.
NOISE = re.compile(
    "|".join(
        [
            r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
            r"oneDNN custom operations are on",
            r"Could not find cuda drivers on your machine",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"^To enable the following instructions: .*rebuild TensorFlow",
            r"failed call to cuInit",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation placer already registered",
            r"TF-TRT Warning: Could not find TensorRT",
            r"Attempting to register factory for plugin",
        ]
    )
)


@contextlib.contextmanager
def native_stderr_filtered():
    """Capture file descriptor 2 inside the block; afterwards re-emit the lines that are not NOISE."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no descriptor 2 to capture (embedded Python)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line.strip() and not NOISE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, but executes it inside :func:`native_stderr_filtered`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()  # one shot; also lets the search below find the real spec
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            with native_stderr_filtered():
                execute(module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Install the hook, unless TensorFlow is already imported or ``MDL_SHOW_TF_LOG=1`` is set."""
    if "tensorflow" in sys.modules or os.environ.get("MDL_SHOW_TF_LOG") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later C++ INFO/WARNING lines; errors still show
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowImport)]
