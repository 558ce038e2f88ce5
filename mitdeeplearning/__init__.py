"""Helper package for the Introduction to Deep Learning labs.

``import mitdeeplearning as mdl`` is cheap: it imports neither TensorFlow, gymnasium nor OpenCV.
The per-lab modules load on first use::

    mdl.lab1   # music: ABC tunes, validation, synthesis, checks for lab 1
    mdl.lab2   # MNIST and face data, DB-VAE helpers, checks for lab 2
    mdl.lab3   # reinforcement learning: environments, memory, videos, checks for lab 3
    mdl.util   # plots and training-progress helpers shared by all labs

Imported before TensorFlow (the first line of every lab's setup cell), it also keeps TensorFlow's
start-up log out of the notebook; see ``mitdeeplearning._quiet``.
"""

import importlib

from . import _quiet, _todo

_quiet.install()
_todo.install()  # in a notebook: Run All that stops at an unwritten TODO shows it

__version__ = "0.1.0"  # the one source of the version (pyproject.toml reads it; `mitdeeplearning release` bumps it)

_LAZY_SUBMODULES = ("lab1", "lab2", "lab3", "util", "data", "checks")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_SUBMODULES))
