"""Checker for "any divisor": accept any d with 1 < d < n that divides n.

Run as `checker input expected actual` (file names). Exit 0: accepted; exit 1: wrong answer.
The first line printed is the comment shown to the contestant. The contestant's output is
untrusted: read a bounded amount and parse it strictly.
"""

import re
import sys


def verdict(accepted: bool, comment: str) -> None:
    sys.stdout.write(comment + "\n")
    sys.exit(0 if accepted else 1)


def main() -> None:
    input_path, _expected_path, actual_path = sys.argv[1:4]
    with open(input_path, "rb") as f:
        n = int(f.read().split()[0])
    with open(actual_path, "rb") as f:
        actual = f.read(64 + 1)
    tokens = actual.split()
    if len(actual) > 64 or len(tokens) != 1:
        verdict(False, "expected exactly one number")
    if not re.fullmatch(rb"[0-9]{1,20}", tokens[0]):
        verdict(False, "the answer is not a positive integer")
    d = int(tokens[0])
    if not 1 < d < n:
        verdict(False, f"{d} is not strictly between 1 and {n}")
    if n % d:
        verdict(False, f"{d} does not divide {n}")
    verdict(True, f"{d} divides {n}")


main()
