from __future__ import annotations

from core.grading.tomlpos import key_lines, line_of

DOCUMENT = '''name = "x"
statement = """
fake = 1
[fake]
"""
[limits]
cpu_time_s = 1  # comment
[limits.languages.java]
memory_mb = 3
[[subtasks]]
name = "a"
tests = ["x",
  "y = z"]
[[subtasks]]
"name" = "b"
[subtasks.extra]
dotted.key = 1
'''


def test_keys_tables_and_array_elements() -> None:
    lines = key_lines(DOCUMENT)
    assert lines[("name",)] == 1
    assert lines[("limits", "cpu_time_s")] == 7
    assert lines[("limits", "languages", "java", "memory_mb")] == 9
    assert lines[("subtasks", 0, "tests")] == 12
    assert lines[("subtasks", 1)] == 14 and lines[("subtasks", 1, "name")] == 15
    assert lines[("subtasks", 1, "extra", "dotted", "key")] == 17


def test_multiline_strings_are_skipped() -> None:
    lines = key_lines(DOCUMENT)
    assert ("fake",) not in lines and ("y",) not in lines


def test_the_nearest_located_key_answers_for_what_is_inside_it() -> None:
    lines = key_lines(DOCUMENT)
    assert line_of(lines, ("subtasks", 0, "tests", 1)) == 12
    assert line_of(lines, ("subtasks", 1, "points")) == 14
    assert line_of(lines, ("nowhere",)) is None
