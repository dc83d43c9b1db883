"""Where each key of a TOML document is written, so that a message about a value names its line.

tomllib reports positions for syntax errors only. Once the document parsed, a complaint such as
"checker.abs_tolerance must be at least 0" is far more useful as "problem.toml:14: ...", so this
module scans the text the way a reader does: table headers (`[limits]`, `[[subtasks]]`, counting
the elements of arrays of tables) and `key = value` lines (dotted keys too), skipping the bodies
of multi-line strings. It only locates; tomllib has already decided the document is valid.
Keys written inside inline tables or arrays are located at the line of the key that holds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

KeyPath = tuple[str | int, ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_PART = re.compile(_BARE_OR_QUOTED)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path (array-of-tables elements as indexes) to its 1-based line number."""
    lines: dict[KeyPath, int] = {}
    array_lengths: dict[KeyPath, int] = {}
    table: KeyPath = ()
    closing: str | None = None  # the delimiter that ends the multi-line string being skipped
    for number, line in enumerate(text.splitlines(), start=1):
        if closing is not None:
            if closing in line:
                closing = None
            continue
        if match := _ARRAY_HEADER.match(line):
            path = _resolve(_parts(match.group(1)), array_lengths)
            index = array_lengths.get(path, 0)
            array_lengths[path] = index + 1
            table = (*path, index)
            lines.setdefault(path, number)
            lines[table] = number
        elif match := _TABLE_HEADER.match(line):
            table = _resolve(_parts(match.group(1)), array_lengths)
            lines[table] = number
        elif match := _KEY_VALUE.match(line):
            lines[(*table, *_parts(match.group(1)))] = number
            closing = _opens_multiline_string(match.group(2))
    return lines


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of the nearest enclosing key that was located."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(_unquote(part) for part in _PART.findall(dotted))


def _unquote(part: str) -> str:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part


def _resolve(parts: tuple[str, ...], array_lengths: Mapping[KeyPath, int]) -> KeyPath:
    """A header's path, with the current element index after each array of tables it goes
    through (`[subtasks.limits]` after the third `[[subtasks]]` is subtasks/2/limits)."""
    path: KeyPath = ()
    for part in parts[:-1]:
        path = (*path, part)
        if path in array_lengths:
            path = (*path, array_lengths[path] - 1)
    return (*path, parts[-1])


def _opens_multiline_string(value: str) -> str | None:
    """The closing delimiter if `value` opens a multi-line string it does not also close."""
    for delimiter in ('"""', "'''"):
        if value.startswith(delimiter) and delimiter not in value[3:]:
            return delimiter
    return None
