"""inspect_data's worker: runs INSIDE the sandbox, over the task's read-only data under /data/<dataset>/.

The server sends this module's source plus one `main({...})` call through the runner, like any
`run_code`, so the inspection sees exactly the files the agent's code sees, under the same limits.
It prints one line: a marker and a JSON object (`ok`, `text`, `columns`, `rows`, `truncated`, or
`ok: false` and an `error` the agent can act on). Standard library and pandas only.

Tables are the CSV/TSV files (optionally gzipped) anywhere under the data folder, named by their
path without the extension (`ADMISSIONS`, `data/brca_tcga/clinical`), and the tables of SQLite
files; a SQLite table shadows a CSV file of the same name (same data, and SQL counts are fast).
"""

from __future__ import annotations

import sys

# medgym's own code must never import from the agent's writable folders (a planted difflib.py there
# would decide what inspect_data answers): drop them before importing anything else.
sys.path[:] = [p for p in sys.path if p not in ("", ".", "/workspace", "/tmp")]

import collections  # noqa: E402
import difflib  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

MAX_ROWS = 50  # rows of a column_values / search answer
MAX_TABLES = 300  # rows of a list_tables answer
MAX_FILES = 5000  # files looked at when discovering tables
MAX_CELL = 200  # characters of one cell
SAMPLE_ROWS = 10_000  # rows describe_table reads for types and examples
CHUNK_ROWS = 100_000  # rows read at a time when a whole CSV is scanned
COUNT_BYTES = 64 * 1024 * 1024  # CSVs up to this size get an exact row count in list_tables
SEARCH_BYTES = 64 * 1024 * 1024  # search without `table` skips bigger tables (and says so)
MAX_DISTINCT = 200_000  # distinct values tracked by column_values before it stops counting new ones
PER_COLUMN_MATCHES = 10
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".csv.gz": ",", ".tsv.gz": "\t"}
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class InspectError(Exception):
    """A request the agent can fix (unknown table or column, missing argument)."""


@dataclass
class Table:
    name: str
    path: str
    kind: str  # "csv" or "sqlite"
    size: int
    sep: str = ","
    sql_name: str = ""
    also: str = ""  # a CSV file this SQLite table shadows


def _suffix(filename: str) -> str | None:
    lowered = filename.lower()
    for suffix in sorted(CSV_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return suffix
    return next((s for s in SQLITE_SUFFIXES if lowered.endswith(s)), None)


def discover(root: str) -> dict[str, Table]:
    csvs: dict[str, Table] = {}
    databases: list[str] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for filename in sorted(filenames):
            seen += 1
            if seen > MAX_FILES:
                break
            suffix = _suffix(filename)
            path = os.path.join(dirpath, filename)
            if suffix in CSV_SUFFIXES:
                name = os.path.relpath(path, root)[: -len(suffix)]
                csvs[name] = Table(name, path, "csv", os.path.getsize(path), CSV_SUFFIXES[suffix])
            elif suffix in SQLITE_SUFFIXES:
                databases.append(path)
    tables = dict(csvs)
    for path in databases:
        try:
            with _connect(path) as db:
                names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                                  "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        except sqlite3.Error:
            continue
        stem = os.path.relpath(path, root).rsplit(".", 1)[0]
        folded = {key.lower(): key for key in csvs}
        for sql_name in names:
            name = folded.get(sql_name.lower(), sql_name)  # the CSV's spelling: what the agent sees in /data
            if name in tables and tables[name].kind == "sqlite":
                name = f"{stem}.{sql_name}"
            shadowed = csvs.get(name)
            tables[name] = Table(name, path, "sqlite", os.path.getsize(path), sql_name=sql_name,
                                 also=shadowed.path if shadowed else "")
    return tables


def _connect(path: str) -> sqlite3.Connection:
    # immutable: the file is on a read-only mount; never try to create a journal or take a lock
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _open_text(table: Table) -> Any:
    if table.path.lower().endswith(".gz"):
        return gzip.open(table.path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(table.path, encoding="utf-8", errors="replace", newline="")


def _header(table: Table) -> list[str]:
    if table.kind == "sqlite":
        with _connect(table.path) as db:
            return [r[1] for r in db.execute(f"PRAGMA table_info({_quote(table.sql_name)})")]
    import csv

    with _open_text(table) as handle:
        return next(csv.reader(handle, delimiter=table.sep), [])


def _row_count(table: Table) -> int | None:
    if table.kind == "sqlite":
        with _connect(table.path) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {_quote(table.sql_name)}").fetchone()[0])
    if table.size > COUNT_BYTES or table.path.lower().endswith(".gz"):
        return None
    import pandas as pd

    return sum(len(chunk) for chunk in pd.read_csv(table.path, sep=table.sep, usecols=[0], chunksize=CHUNK_ROWS))


def _find_table(tables: dict[str, Table], name: str | None) -> Table:
    if not name:
        raise InspectError("this action needs `table` (a name from action='list_tables')")
    if name in tables:
        return tables[name]
    folded = {key.lower(): key for key in tables}
    for candidate in (name.lower(), name.lower().rsplit("/", 1)[-1], os.path.basename(name).lower().split(".")[0]):
        if candidate in folded:
            return tables[folded[candidate]]
    close = difflib.get_close_matches(name.lower(), list(folded), n=5, cutoff=0.5)
    hint = ", ".join(folded[c] for c in close) if close else ", ".join(sorted(tables)[:20])
    raise InspectError(f"no table {name[:100]!r} here; {'did you mean' if close else 'tables'}: {hint}")


def _find_column(table: Table, columns: list[str], name: str | None) -> str:
    if not name:
        raise InspectError("this action needs `column` (see action='describe_table')")
    if name in columns:
        return name
    folded = {c.lower(): c for c in columns}
    if name.lower() in folded:
        return folded[name.lower()]
    raise InspectError(f"{table.name} has no column {name[:100]!r}; its columns: {', '.join(columns)[:1500]}")


def _load_hint(table: Table) -> str:
    if table.kind == "sqlite":
        return (f"sqlite3.connect('file:{table.path}?mode=ro&immutable=1', uri=True); "
                f"SELECT ... FROM {_quote(table.sql_name)}")
    sep = ", sep='\\t'" if table.sep == "\t" else ""
    return f"pandas.read_csv('{table.path}'{sep})"


def _sample(table: Table, rows: int) -> Any:
    import pandas as pd

    if table.kind == "sqlite":
        with _connect(table.path) as db:
            return pd.read_sql_query(f"SELECT * FROM {_quote(table.sql_name)} LIMIT {int(rows)}", db)
    return pd.read_csv(table.path, sep=table.sep, nrows=rows, low_memory=False)


def list_tables(root: str, tables: dict[str, Table], **_: Any) -> dict[str, Any]:
    if not tables:
        return _answer(f"no tables (CSV, TSV or SQLite files) under {root}", [], [])
    rows = []
    for table in sorted(tables.values(), key=lambda t: t.name.lower())[:MAX_TABLES]:
        columns = _header(table)
        path = table.path if not table.also else f"{table.path} (also {table.also})"
        rows.append([table.name, table.kind, path, human_size(table.size), _row_count(table), len(columns)])
    text = f"{len(tables)} tables under {root}"
    if len(tables) > MAX_TABLES:
        text += f" (first {MAX_TABLES} shown; use action='search' to find one by name)"
    text += ". rows is empty where counting would mean reading a large file; describe_table shows the columns."
    return _answer(text, ["table", "format", "path", "size", "rows", "columns"], rows, len(tables) > MAX_TABLES)


def describe_table(root: str, tables: dict[str, Table], table: str | None = None, **_: Any) -> dict[str, Any]:
    found = _find_table(tables, table)
    frame = _sample(found, SAMPLE_ROWS)
    rows = []
    for column in frame.columns:
        series = frame[column]
        examples = [_cell(v) for v in series.dropna().unique()[:3]]
        rows.append([str(column), str(series.dtype), int(series.notna().sum()), int(series.nunique()),
                     _cell(", ".join(map(str, examples)))])
    total = _row_count(found)
    if total is None and len(frame) < SAMPLE_ROWS:
        total = len(frame)  # the sample is the whole table
    size = f"{total} rows" if total is not None else f"{human_size(found.size)}"
    sampled = f"all {len(frame)} rows" if total == len(frame) else f"the first {len(frame)} rows"
    head = frame.head(3).to_string(max_colwidth=30, max_cols=12) if len(frame) else "(no rows)"
    text = (f"{found.name}: {size}, {len(frame.columns)} columns. Types, non-null and distinct counts and "
            f"examples are from {sampled}. Load it with {_load_hint(found)}"
            f"{f' (or {found.also}, the same table as CSV; column names may differ in case)' if found.also else ''}.\n"
            f"First rows:\n{head}")
    return _answer(text, ["column", "dtype", "non_null", "distinct", "examples"], rows)


def column_values(root: str, tables: dict[str, Table], table: str | None = None, column: str | None = None,
                  term: str | None = None, **_: Any) -> dict[str, Any]:
    found = _find_table(tables, table)
    name = _find_column(found, _header(found), column)
    needle = (term or "").lower()
    if found.kind == "sqlite":
        counts, rows_total, non_null, capped = _sqlite_values(found, name, needle)
    else:
        counts, rows_total, non_null, capped = _csv_values(found, name, needle)
    numeric = [v for v in counts if isinstance(v, int | float) and not isinstance(v, bool)]
    top = counts.most_common(MAX_ROWS)
    distinct = f"{len(counts)}{'+' if capped else ''}"
    scope = f" containing {term!r}" if needle else ""
    text = (f"{name} in {found.name}: {rows_total} rows, {non_null} non-null, {distinct} distinct values{scope}; "
            f"most frequent first ({len(top)} shown).")
    if numeric and not needle:
        text += f" Numeric range: {min(numeric)} to {max(numeric)}."
    return _answer(text, ["value", "count"], [[_cell(v), c] for v, c in top], len(counts) > MAX_ROWS)


def _sqlite_values(table: Table, column: str, needle: str) -> tuple[collections.Counter[Any], int, int, bool]:
    col, source = _quote(column), _quote(table.sql_name)
    where = f"WHERE instr(lower(CAST({col} AS TEXT)), ?) > 0" if needle else ""
    params = (needle,) if needle else ()
    with _connect(table.path) as db:
        rows_total, non_null = db.execute(f"SELECT COUNT(*), COUNT({col}) FROM {source}").fetchone()
        found = db.execute(f"SELECT {col}, COUNT(*) FROM {source} {where} GROUP BY {col} "
                           f"ORDER BY COUNT(*) DESC LIMIT {MAX_DISTINCT}", params).fetchall()
        if not needle:  # the extremes, whatever their frequency
            low, high = db.execute(f"SELECT MIN({col}), MAX({col}) FROM {source}").fetchone()
            found += [(v, 0) for v in (low, high) if v is not None and v not in {r[0] for r in found}]
    counts: collections.Counter[Any] = collections.Counter()
    for value, count in found:
        if value is not None:
            counts[value] += count
    return counts, int(rows_total), int(non_null), len(found) >= MAX_DISTINCT


def _csv_values(table: Table, column: str, needle: str) -> tuple[collections.Counter[Any], int, int, bool]:
    import pandas as pd

    counts: collections.Counter[Any] = collections.Counter()
    rows_total = non_null = 0
    capped = False
    for chunk in pd.read_csv(table.path, sep=table.sep, usecols=[column], chunksize=CHUNK_ROWS, low_memory=False):
        series = chunk[column]
        rows_total += len(series)
        series = series.dropna()
        non_null += len(series)
        if needle:
            series = series[series.astype(str).str.lower().str.contains(needle, regex=False)]
        for value, count in series.value_counts().items():
            value = _cell(value)
            if value in counts or len(counts) < MAX_DISTINCT:
                counts[value] += int(count)
            else:
                capped = True
    return counts, rows_total, non_null, capped


def search(root: str, tables: dict[str, Table], term: str | None = None, table: str | None = None,
           **_: Any) -> dict[str, Any]:
    needle = (term or "").strip().lower()
    if len(needle) < 2:
        raise InspectError("search needs `term`, at least 2 characters (matched case-insensitively as a substring)")
    scope = [_find_table(tables, table)] if table else sorted(tables.values(), key=lambda t: t.name.lower())
    rows: list[list[Any]] = []
    skipped: list[str] = []
    for found in scope:
        if needle in found.name.lower():
            rows.append([found.name, None, "table name", None])
        columns = _header(found)
        rows += [[found.name, c, "column name", None] for c in columns if needle in c.lower()]
        if not table and found.size > SEARCH_BYTES:
            skipped.append(f"{found.name} ({human_size(found.size)})")
            continue
        for column, value, count in _value_matches(found, columns, needle):
            rows.append([found.name, column, _cell(value), count])
    text = f"{len(rows)} matches of {term!r} in table names, column names and text values"
    if skipped:
        text += (f"; values of these large tables were not searched (pass table= to search one): "
                 f"{', '.join(skipped)[:1000]}")
    text += f". At most {PER_COLUMN_MATCHES} values per column, most frequent first."
    shown = rows[:MAX_ROWS]
    return _answer(text, ["table", "column", "match", "count"], shown, len(rows) > MAX_ROWS)


def _value_matches(table: Table, columns: list[str], needle: str) -> list[tuple[str, Any, int]]:
    found: list[tuple[str, Any, int]] = []
    if table.kind == "sqlite":
        source = _quote(table.sql_name)
        with _connect(table.path) as db:
            declared = {r[1]: (r[2] or "").upper() for r in db.execute(f"PRAGMA table_info({source})")}
            for column in columns:
                if any(t in declared.get(column, "") for t in ("INT", "REAL", "FLOA", "DOUB", "NUM")):
                    continue
                col = _quote(column)
                for value, count in db.execute(
                        f"SELECT {col}, COUNT(*) FROM {source} WHERE instr(lower(CAST({col} AS TEXT)), ?) > 0 "
                        f"GROUP BY {col} ORDER BY COUNT(*) DESC LIMIT {PER_COLUMN_MATCHES}", (needle,)):
                    found.append((column, value, int(count)))
        return found
    import pandas as pd

    counters: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for chunk in pd.read_csv(table.path, sep=table.sep, dtype=str, chunksize=CHUNK_ROWS, keep_default_na=False):
        for column in chunk.columns:
            series = chunk[column]
            hits = series[series.str.lower().str.contains(needle, regex=False)]
            if len(hits) and not pd.to_numeric(hits, errors="coerce").notna().all():
                counters[str(column)].update(hits.tolist())
    for column in columns:
        for value, count in counters.get(column, collections.Counter()).most_common(PER_COLUMN_MATCHES):
            found.append((column, value, count))
    return found


def _answer(text: str, columns: list[str], rows: list[list[Any]], truncated: bool = False) -> dict[str, Any]:
    return {"ok": True, "text": text, "columns": columns, "rows": rows, "truncated": truncated}


ACTIONS = {"list_tables": list_tables, "describe_table": describe_table, "column_values": column_values,
           "search": search}


def _fit(answer: dict[str, Any], max_bytes: int) -> str:
    """The answer as JSON within the sandbox's output cap: trailing rows are dropped (and said so)."""
    encoded = json.dumps(answer, ensure_ascii=True, default=str)
    while len(encoded) > max_bytes and answer.get("rows"):
        answer["rows"] = answer["rows"][: len(answer["rows"]) // 2]
        answer["truncated"] = True
        encoded = json.dumps(answer, ensure_ascii=True, default=str)
    if len(encoded) > max_bytes:
        answer["text"] = answer.get("text", "")[: max_bytes // 2] + "…"
        encoded = json.dumps(answer, ensure_ascii=True, default=str)
    return encoded


def main(request: dict[str, Any]) -> None:
    root = request["root"]
    try:
        if not os.path.isdir(root):
            raise InspectError(f"no data is mounted at {root}")
        answer = ACTIONS[request["action"]](root, discover(root), **request.get("arguments", {}))
    except InspectError as exc:
        answer = {"ok": False, "error": str(exc)}
    except (ValueError, KeyError, OSError, sqlite3.Error, UnicodeError) as exc:
        answer = {"ok": False, "error": f"could not read the data: {str(exc)[:500] or type(exc).__name__}"}
    mark = str(request["mark"])
    sys.stdout.write(mark + _fit(answer, int(request.get("max_bytes", 65536)) - len(mark) - 64) + "\n")
    sys.stdout.flush()
