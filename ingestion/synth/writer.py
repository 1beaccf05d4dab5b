"""Streaming table writers (Parquet or CSV via pyarrow): write chunk by chunk, publish on close."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("parquet", "csv")


class TableWriter:
    """Appends record batches to ``<dir>/<name>.<fmt>``; the file appears only when closed cleanly."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema, fmt: str = "parquet"):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        self.path = Path(directory) / f"{name}.{fmt}"
        self._partial = self.path.with_name(self.path.name + ".partial")
        self.schema, self.rows = schema, 0
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(self._partial, schema, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(self._partial, schema)

    def write(self, columns: dict[str, object]) -> None:
        """Append one chunk; ``columns`` maps every schema field to an array-like of equal length."""
        missing = set(self.schema.names) - set(columns)
        if missing:
            raise ValueError(f"{self.path.name}: missing columns {sorted(missing)}")
        batch = pa.record_batch([pa.array(columns[f.name], type=f.type) if not isinstance(columns[f.name], pa.Array)
                                 else columns[f.name].cast(f.type) for f in self.schema], schema=self.schema)
        if batch.num_rows:
            self._writer.write(pa.Table.from_batches([batch]) if isinstance(self._writer, pq.ParquetWriter)
                               else batch)
            self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
