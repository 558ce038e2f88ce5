"""Shared machinery of the mistake catalogues (tests/test_catalogue_lab*.py).

An entry is one student answer to one TODO: a *wrong* answer must make the TODO's own check raise
``AssertionError`` whose hint contains every key word of the entry (the words that name its fix);
a *valid* answer (another spelling of the right answer) must pass, printing ✔ and returning None.
"""

import contextlib
import io
from dataclasses import dataclass, field

import pytest


@dataclass
class Entry:
    todo: str            # "1.4": part 1, TODO 4
    label: str           # what the student did
    run: object          # calls the TODO's check on the student's answer
    keywords: tuple = field(default_factory=tuple)  # empty: a valid answer

    @property
    def valid(self):
        return not self.keywords

    @property
    def id(self):
        return f"TODO {self.todo}: {'valid' if self.valid else 'wrong'}: {self.label}"


class Catalogue:
    def __init__(self, lab):
        self.lab, self.entries, self.outcomes = lab, [], {}

    def wrong(self, todo, label, *keywords):
        assert keywords, "a wrong answer names the key words of its hint"

        def add(run):
            self.entries.append(Entry(todo, label, run, tuple(keywords)))
            return run

        return add

    def valid(self, todo, label):
        def add(run):
            self.entries.append(Entry(todo, label, run))
            return run

        return add

    def params(self):
        return [pytest.param(e, id=e.id) for e in self.entries]

    def check(self, entry):
        out = io.StringIO()
        if entry.valid:
            with contextlib.redirect_stdout(out):
                result = entry.run()
            assert result is None, f"{entry.id}: the check returned {result!r}, not None"
            assert out.getvalue().startswith("✔"), f"{entry.id}: no ✔ line, printed {out.getvalue()!r}"
        else:
            with pytest.raises(AssertionError) as info, contextlib.redirect_stdout(out):
                entry.run()
            hint = str(info.value)
            missing = [k for k in entry.keywords if k.lower() not in hint.lower()]
            assert not missing, f"{entry.id}: the hint lacks {missing}: {hint}"
        self.outcomes[entry.id] = True

    def summary(self, min_wrong=6, min_valid=2):
        todos = sorted({e.todo for e in self.entries}, key=lambda t: tuple(int(p) for p in t.split(".")))
        wrong = [e for e in self.entries if not e.valid]
        valid = [e for e in self.entries if e.valid]
        for t in todos:
            w = sum(1 for e in wrong if e.todo == t)
            v = sum(1 for e in valid if e.todo == t)
            assert w >= min_wrong, f"TODO {t} has {w} wrong answers, fewer than {min_wrong}"
            assert v >= min_valid, f"TODO {t} has {v} valid answers, fewer than {min_valid}"
        rejected = sum(1 for e in wrong if self.outcomes.get(e.id))
        accepted = sum(1 for e in valid if self.outcomes.get(e.id))
        return (f"{self.lab} mistake catalogue: {len(todos)} TODOs, {rejected}/{len(wrong)} wrong answers rejected "
                f"with their hint, {accepted}/{len(valid)} valid alternatives accepted")
