"""Read the generic format: find the tables of a dataset, stream rows from CSV, JSONL or Parquet,
and turn them into validated records (bad rows go to the ErrorPolicy)."""
from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from graph.errors import InputError
from ingestion.quarantine import ErrorPolicy
from ingestion.records import (COLUMNS, MAX_TEXT_CHARS, TABLES, Dataset, Source, parse_content,
                               parse_content_topic, parse_declared_interest, parse_follow, parse_interaction,
                               parse_topic, parse_user)

logger = logging.getLogger(__name__)

FORMATS = (".csv", ".jsonl", ".parquet")
PARQUET_BATCH = 10_000


def discover(paths: Sequence[Path]) -> dict[str, Path]:
    """Table name → file, from directories (holding ``<table>.<fmt>``) and/or table files."""
    found: dict[str, Path] = {}

    def add(table: str, path: Path) -> None:
        if table in found:
            raise InputError(f"table {table!r} given twice: {found[table]} and {path}", file=str(path))
        found[table] = path

    for path in map(Path, paths):
        if path.is_dir():
            for table in TABLES:
                for fmt in FORMATS:
                    if (path / f"{table}{fmt}").is_file():
                        add(table, path / f"{table}{fmt}")
        elif path.is_file():
            if path.suffix not in FORMATS or path.stem not in TABLES:
                raise InputError(f"not a table of the ingest format (expected <table>{{{','.join(FORMATS)}}} "
                                 f"with table one of {', '.join(TABLES)})", file=str(path))
            add(path.stem, path)
        else:
            raise InputError("no such file or directory", file=str(path))
    if not found:
        raise InputError(f"no tables found (expected files like users.csv, content.jsonl, "
                         f"interactions.parquet) in {', '.join(map(str, paths))}")
    return {t: found[t] for t in TABLES if t in found}


def iter_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, raw row) pairs; a JSONL line that is not an object is yielded as an InputError."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                return
            for row in reader:
                if None in row:
                    yield reader.line_num, InputError(f"{len(row[None])} more value(s) than header columns",
                                                      file=str(path), line=reader.line_num)
                    continue
                yield reader.line_num, row
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    yield line_no, InputError(f"invalid JSON: {e.msg}", file=str(path), line=line_no)
                    continue
                if not isinstance(row, dict):
                    yield line_no, InputError("a JSONL row must be an object", file=str(path), line=line_no)
                    continue
                yield line_no, row
    elif path.suffix == ".parquet":
        row_no = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH):
            for row in batch.to_pylist():
                row_no += 1
                yield row_no, row
    else:
        raise InputError(f"unsupported format {path.suffix!r}; use one of {FORMATS}", file=str(path))


class Tables:
    """The tables of a dataset on disk, parsed row by row each time they are read (never held whole).

    ``records(table, policy)`` streams validated records of one table again on every call, so a load
    can validate in one pass and write in a second one with memory bounded by what it keeps between
    them; ``rows_read`` counts the raw rows of each table read so far.
    """

    def __init__(self, paths: Sequence[Path], dims: Mapping[str, int], max_text_chars: int = MAX_TEXT_CHARS,
                 name: str | None = None):
        self.files = discover(paths)
        self.dims = dict(dims)
        self.max_text_chars = max_text_chars
        self.name = name or ", ".join(str(p) for p in paths)
        self.rows_read: dict[str, int] = {}

    def records(self, table: str, policy: ErrorPolicy, warn: bool = True) -> Iterator[Any]:
        """Parsed records of ``table`` (none if the dataset lacks it); bad rows go to ``policy``."""
        path = self.files.get(table)
        if path is None:
            return
        unknown_warned = not warn
        count = 0
        for line, raw in iter_rows(path):
            count += 1
            if isinstance(raw, InputError):
                policy.reject(table, raw)
                continue
            if not unknown_warned and set(raw) - set(COLUMNS[table]):
                logger.warning("%s: ignoring unknown column(s) %s", path, sorted(set(raw) - set(COLUMNS[table])))
                unknown_warned = True
            src = Source(str(path), line)
            try:
                if table == "content":
                    rec = parse_content(raw, src, path.parent, self.dims, self.max_text_chars)
                else:
                    rec = _PARSERS[table](raw, src)
            except InputError as e:
                policy.reject(table, e, raw)
                continue
            yield rec
        self.rows_read[table] = count
        if warn:
            logger.info("read %s: %d rows from %s", table, count, path)


def read_dataset(paths: Sequence[Path], policy: ErrorPolicy, dims: Mapping[str, int],
                 max_text_chars: int = MAX_TEXT_CHARS, name: str | None = None) -> Dataset:
    """Parse every table of the dataset into memory; bad rows are rejected through ``policy``.

    Row-level checks only; references between tables are checked by the pipeline.
    """
    tables = Tables(paths, dims, max_text_chars, name)
    ds = Dataset(tables.name)
    for table in tables.files:
        ds.table(table).extend(tables.records(table, policy))
    ds.rows_read = dict(tables.rows_read)
    return ds


_PARSERS = {"users": parse_user, "topics": parse_topic, "content_topics": parse_content_topic,
            "interactions": parse_interaction, "follows": parse_follow,
            "declared_interests": parse_declared_interest}
