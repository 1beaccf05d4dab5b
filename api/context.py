"""Per-app objects for views: the Graph, the config, and the role a view requires."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from api.config import ApiConfig
from graph.db import Graph

F = TypeVar("F", bound=Callable)


def current_graph() -> Graph:
    return current_app.extensions["ikg_graph"]


def current_config() -> ApiConfig:
    return current_app.extensions["ikg_config"]


def requires(role: str) -> Callable[[F], F]:
    """Mark a view as needing at least ``role`` (views default to ``read``)."""
    def mark(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]
        return view
    return mark
