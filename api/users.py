"""Per-user data control (admin keys only): ``DELETE /v1/users/{id}`` and ``GET /v1/users/{id}/export``.

Deletion removes the user and everything derived from them in one transaction and records the
deletion in the local ledger (``graph.deletions``); deleting again answers 404 ``user_not_found``.
The export is the user's stored data as JSON (embedding vectors only with ``embeddings=true``).
"""
from __future__ import annotations

import logging

from flask import Blueprint

from api.context import current_graph, requires
from api.errors import not_found
from api.params import bool_arg, check_id, known
from graph import userdata

logger = logging.getLogger(__name__)

bp = Blueprint("users", __name__, url_prefix="/v1")


@bp.delete("/users/<path:user_id>")
@requires("admin")
def delete_user(user_id: str):
    """Delete the user and all their data; 404 if there is no such user (a repeated delete)."""
    known()
    user_id = check_id("id", user_id)
    result = userdata.delete_user(current_graph(), user_id)
    if not result["deleted"]:
        raise not_found("user", user_id)
    return result


@bp.get("/users/<path:user_id>/export")
@requires("admin")
def export_user(user_id: str):
    """Everything stored about the user: properties, every relationship with its properties, owned records."""
    known("embeddings")
    user_id = check_id("id", user_id)
    result = userdata.export_user(current_graph(), user_id, embeddings=bool_arg("embeddings", False))
    if result is None:
        raise not_found("user", user_id)
    return result
