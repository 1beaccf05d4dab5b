"""Query-parameter parsing: bounded integers, enums, booleans and ids; errors name the parameter."""
from __future__ import annotations

import re

from flask import request

from api.errors import bad_param

MAX_ID_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def check_id(name: str, value: str) -> str:
    """An id as given (any printable text, bounded); only ever used as a query parameter."""
    if not value or len(value) > MAX_ID_LENGTH or _CONTROL.search(value):
        raise bad_param(name, f"must be 1..{MAX_ID_LENGTH} printable characters")
    return value


def known(*names: str) -> None:
    """Reject query parameters the endpoint does not define."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise bad_param(unknown[0], f"unknown parameter; this endpoint accepts {', '.join(names) or 'none'}")


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise bad_param(name, "given more than once")
    return values[0] if values else None


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = _single(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise bad_param(name, f"must be an integer in {lo}..{hi}, got {raw[:40]!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise bad_param(name, f"must be in {lo}..{hi}, got {value}")
    return value


def float_arg(name: str, default: float, lo: float, hi: float) -> float:
    raw = _single(name)
    if raw is None:
        return default
    try:
        value = float(raw) if len(raw) <= 40 else float("nan")
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:  # also rejects NaN
        raise bad_param(name, f"must be a number in {lo}..{hi}, got {raw[:40]!r}")
    return value


def bool_arg(name: str, default: bool) -> bool:
    raw = _single(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise bad_param(name, f"must be true or false, got {raw[:40]!r}")


def choice_arg(name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = _single(name)
    if raw is None:
        return default
    if raw not in choices:
        raise bad_param(name, f"must be one of {', '.join(choices)}, got {raw[:40]!r}")
    return raw


def id_arg(name: str, required: bool = False) -> str | None:
    raw = _single(name)
    if raw is None:
        if required:
            raise bad_param(name, "is required")
        return None
    return check_id(name, raw)


def list_arg(name: str, choices: tuple[str, ...]) -> tuple[str, ...] | None:
    """Comma-separated subset of ``choices`` (None when absent)."""
    raw = _single(name)
    if raw is None:
        return None
    items = tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    bad = [s for s in items if s not in choices]
    if not items or bad:
        raise bad_param(name, f"must be a comma-separated list of {', '.join(choices)}")
    return items
