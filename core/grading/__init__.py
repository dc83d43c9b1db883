"""Batch grading: problems with test cases and checkers, many submissions, each compiled once.

    problem.py   the problem format on disk (problem.toml + tests/NAME.in, NAME.out) and its checks
    archive.py   safe unpacking of uploaded zip/tar problems, and the canonical archive stored
    checkers.py  built-in output checkers, and custom checker programs run in the sandbox
    scoring.py   per-subtask and total scores from per-test verdicts
    grader.py    one submission: compile once, run every test in a fresh container, check, score
    local.py     many submissions in parallel on this host (`jaula grade`, bench/grading.py)
    report.py    the results as the public JSON contract and as CSV

The service side (tables, job life cycle, queue, worker cache) is in models.py, jobs.py, queue.py
and cache.py. docs/grading.md explains the format, the checkers and the design.
"""
