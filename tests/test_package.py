"""Package-level promises: a light import, lazy lab modules, the console script, checks machinery."""

import subprocess
import sys

import pytest

from mitdeeplearning.checks import CheckFailed, check, require


def test_import_is_light():
    code = (
        "import sys, mitdeeplearning as mdl\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'gymnasium', 'cv2', 'music21') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "mdl.util\n"
        "assert 'tensorflow' not in sys.modules, 'mdl.util must import TensorFlow only when a function needs it'\n"
        "print('light')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light"


def test_unknown_attribute_is_an_attribute_error():
    import mitdeeplearning as mdl

    with pytest.raises(AttributeError, match="no attribute 'lab9'"):
        mdl.lab9


def test_console_script_and_module_agree():
    """The instructor command comes from mdl_tools (its own distribution), not the student package."""
    for cmd in (["mitdeeplearning", "--help"], [sys.executable, "-m", "mdl_tools", "--help"]):
        if cmd[0] == "mitdeeplearning":
            cmd[0] = str(__import__("pathlib").Path(sys.executable).with_name("mitdeeplearning"))
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        for verb in ("build", "check", "run", "diff"):
            assert verb in result.stdout


@check
def check_positive(x):
    require(x > 0, f"expected a positive number, got {x}")
    return "x is positive"


def test_check_prints_tick_on_success(capsys):
    assert check_positive(3) is True
    assert capsys.readouterr().out == "✔ x is positive\n"


def test_check_failure_carries_the_hint():
    with pytest.raises(AssertionError, match="expected a positive number, got -1"):
        check_positive(-1)


def test_check_turns_unrelated_errors_into_hints():
    with pytest.raises(CheckFailed, match="check_positive could not inspect your answer: TypeError"):
        check_positive("three")


def test_check_lets_unwritten_todos_through():
    @check
    def check_calls(f):
        f()
        return "called"

    def todo():
        raise NotImplementedError("TODO 1: write me")

    with pytest.raises(NotImplementedError, match="TODO 1"):
        check_calls(todo)
