"""The machinery behind every ``mdl.labN.check_*`` function.

A check inspects a student's own objects and either prints one line starting with ✔ or raises
``AssertionError`` with a hint that says what was expected and what to look at. Write a check as::

    @check
    def check_matrix(matrix):
        require(rank_of(matrix) == 2, f"expected a 2-d tensor, got rank {rank_of(matrix)}")
        return "matrix is a 2-d tensor"

The decorator prints the returned message. Any other exception raised while inspecting the answer
(say, a student passed a list where a tensor was expected) becomes an ``AssertionError`` naming the
check and the original error, so students never face an unrelated traceback. ``NotImplementedError``
passes through unchanged: it means a TODO inside the student's code has not been written yet.
"""

import functools

__all__ = ["check", "require", "CheckFailed"]


class CheckFailed(AssertionError):
    """Raised by a check when the answer is wrong; the message is the hint."""


def require(condition, hint):
    """Fail the running check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint)


def check(func):
    """Turn ``func`` into a course check: print ✔ on success, an ``AssertionError`` hint on failure."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            message = func(*args, **kwargs)
        except (AssertionError, NotImplementedError):  # a wrong answer, or a TODO not written yet
            raise
        except Exception as exc:  # a wrong type or shape breaks the inspection itself
            raise CheckFailed(
                f"{func.__name__} could not inspect your answer: {type(exc).__name__}: {exc}. "
                f"Check the type and shape of what you passed (see the TODO's instructions)."
            ) from exc
        print(f"✔ {message or func.__name__ + ' passed'}")
        return True

    wrapper.is_check = True
    return wrapper
