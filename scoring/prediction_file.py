"""Read a predictions file. Its bytes were written by agent code: they are parsed defensively,
bounded in rows, and only short excerpts of the agent's own cells are ever quoted back.

Every problem raises `AnswerFormatError` (not counted as an attempt) naming the line and what is
expected. None of these checks looks at a label, so a format error reveals nothing hidden.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from medgym.errors import AnswerFormatError

if TYPE_CHECKING:
    from _csv import Reader

MAX_ROWS = 1_000_000
_QUOTED = 40
_INTEGER = re.compile(r"[+-]?\d+(\.0*)?")

Row = tuple[float, ...]
Table = dict[tuple[str, ...], Row]


def canonical_id(text: str) -> str:
    """An id as compared: trimmed; an integer written as `00123`, `123.0` or `+123` reads as `123`."""
    value = text.strip()
    if _INTEGER.fullmatch(value):
        return str(int(value.split(".")[0]))
    return value


def quoted(text: str) -> str:
    """A cell of the agent's file, shortened for a message."""
    return repr(text if len(text) <= _QUOTED else text[: _QUOTED - 1] + "…")


def read_predictions(data: bytes, id_columns: Sequence[str], value_columns: Sequence[str],
                     max_rows: int = MAX_ROWS) -> Table:
    """id tuple -> probabilities, in the order of `value_columns`."""
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        positions = _layout(next(reader, None), [*id_columns, *value_columns])
        table = _rows(reader, positions, len(id_columns), value_columns, max_rows)
    except csv.Error as exc:
        raise AnswerFormatError(f"the predictions file is not a readable CSV (line {reader.line_num}: {exc})") from None
    if not table:
        raise AnswerFormatError("the predictions file has a header but no prediction rows")
    return table


def _text(data: bytes) -> str:
    if not data.strip():
        raise AnswerFormatError("the predictions file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnswerFormatError(f"the predictions file is not UTF-8 text (byte {exc.start})") from None


def _layout(header: list[str] | None, expected: list[str]) -> list[int]:
    """Where each expected column is (columns may come in any order; names are case-insensitive)."""
    names = [name.strip().lower() for name in header or []]
    want = ", ".join(expected)
    if sorted(names) != sorted(name.lower() for name in expected):
        found = quoted(",".join(header)) if header else "no header"
        raise AnswerFormatError(f"the predictions file must have exactly the columns {want} (a header line, "
                                f"then one row per test id); found {found}")
    return [names.index(name.lower()) for name in expected]


def _rows(reader: Reader, positions: list[int], n_ids: int, value_columns: Sequence[str],
          max_rows: int) -> Table:
    table: Table = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(positions):
            raise AnswerFormatError(f"line {line} has {len(row)} fields; every row needs {len(positions)}")
        ids = tuple(_id(row[p], line) for p in positions[:n_ids])
        if ids in table:
            raise AnswerFormatError(f"line {line}: the id {quoted(','.join(ids))} appears more than once; "
                                    "write each test id exactly once")
        table[ids] = tuple(_probability(row[p], column, line)
                           for p, column in zip(positions[n_ids:], value_columns, strict=True))
        if len(table) > max_rows:
            raise AnswerFormatError(f"the predictions file has more than {max_rows} rows")
    return table


def _id(cell: str, line: int) -> str:
    value = canonical_id(cell)
    if not value:
        raise AnswerFormatError(f"line {line}: an id is empty")
    return value


def _probability(cell: str, column: str, line: int) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise AnswerFormatError(f"line {line}: {column} must be a number between 0 and 1; got {quoted(cell)}") from None
    if not math.isfinite(value):
        raise AnswerFormatError(f"line {line}: {column} is NaN or infinite; write a probability between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise AnswerFormatError(f"line {line}: {column} must be between 0 and 1; got {quoted(cell.strip())}")
    return value
