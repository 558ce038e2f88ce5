"""Grading a class's submitted notebooks with the notebooks' own checks (``mitdeeplearning grade``).

``submission`` reads a submission (which lab, the code in each TODO region, edits elsewhere, a
screen of each answer); ``execute`` runs it in a sandboxed kernel (``sandbox``) and records each
TODO's result through the grader's own channel; ``report`` writes the table, the pages and the
summary; ``gradescope`` packs the same grader as a Gradescope autograder. docs/GRADING.md has the
design and the limits of the isolation.
"""
