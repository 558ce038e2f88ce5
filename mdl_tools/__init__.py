"""Instructor tooling for the course: build, check, run, diff and bench the lab notebooks.

Kept apart from the student runtime (``mitdeeplearning``): a student installs the runtime alone,
the Makefile installs both.
"""
