"""Every check of every lab, fed answers of the wrong kind, fails with an AssertionError hint:
never passes, never raises an unrelated exception. (Lab tests check the specific hints.)"""

import importlib
import inspect

import numpy as np
import pytest

LABS = ("lab1", "lab2", "lab3")
WRONG_ANSWERS = {
    "None": None,
    "a string": "forty-two",
    "an empty list": [],
    "a float array": np.linspace(-1, 1, 7),
}


def _checks():
    found = []
    for lab in LABS:
        module = importlib.import_module(f"mitdeeplearning.{lab}")
        for name, func in vars(module).items():
            if name.startswith("check_") and callable(func):
                found.append(pytest.param(lab, name, func, id=f"{lab}.{name}"))
    return found


CHECKS = _checks()


def test_every_lab_has_checks():
    for lab in LABS:
        assert any(p.values[0] == lab for p in CHECKS), f"mdl.{lab} has no check_* functions"


@pytest.mark.parametrize("lab,name,func", CHECKS)
def test_check_is_built_with_the_check_decorator(lab, name, func):
    assert getattr(func, "is_check", False), f"mdl.{lab}.{name} is not wrapped in mitdeeplearning.checks.check"


@pytest.mark.parametrize("lab,name,func", CHECKS)
@pytest.mark.parametrize("label", WRONG_ANSWERS)
def test_check_rejects_wrong_kinds_of_answer(lab, name, func, label):
    params = [
        p for p in inspect.signature(func).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    args = [WRONG_ANSWERS[label]] * max(len(params), 1)
    with pytest.raises(AssertionError) as info:
        func(*args)
    assert str(info.value).strip(), f"mdl.{lab}.{name} failed without a hint"
