"""What to do with a bad row: stop with its InputError (default) or set it aside in a quarantine file."""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

ON_ERROR = ("stop", "quarantine")


@dataclass
class ErrorPolicy:
    """Collects rejected rows when ``mode == 'quarantine'``; raises the first error otherwise."""

    mode: str = "stop"
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {ON_ERROR}, got {self.mode!r}")

    def reject(self, table: str, error: InputError, raw: Any = None) -> None:
        """Stop with ``error``, or record the row and its reason and go on."""
        if self.mode == "stop":
            raise error
        self.rejected.append({"table": table, "file": error.file, "line": error.line, "field": error.field,
                              "value": _jsonable(error.value), "reason": error.reason,
                              "row": _jsonable(raw)})

    def counts(self) -> dict[str, int]:
        return dict(Counter(r["table"] for r in self.rejected))

    def write(self, path: Path) -> Path | None:
        """Write the rejected rows as JSON lines (atomically); None when nothing was rejected."""
        if not self.rejected:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".partial")
        with tmp.open("w", encoding="utf-8") as fh:
            for entry in self.rejected:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        tmp.replace(path)
        logger.warning("quarantined %d row(s) in %s", len(self.rejected), path)
        return path


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        text = json.dumps([_jsonable(v) for v in value[:8]])
        return text if len(value) <= 8 else text[:-1] + f", … ({len(value)} items)]"
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)
