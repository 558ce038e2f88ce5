"""The 2020/21 call forms and meanings, as thin wrappers over today's functions.

The course notebooks of 2020 and 2021 call helpers of ``mitdeeplearning`` whose names, arguments or
results differ from what this course's own notebooks want. Those old forms live here, one module per
lab (``compat2021.lab1``, ``compat2021.lab2``, ``compat2021.lab3``), each a thin wrapper over today's
functions. (``mdl.util`` keeps the 2020/21 names with their meanings, so it needs none.) Today's
functions carry no branch, shape sniff or stack walk for old callers; the facades (``mdl.lab1``,
``mdl.lab2``, ``mdl.lab3``) re-export the wrappers, so every name in ``docs/COMPATIBILITY.md`` keeps
working with the same results.

Importing this package is cheap: each module imports TensorFlow (or gymnasium) only through the
lab module it wraps.
"""
