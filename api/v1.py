"""Read endpoints under /v1: each runs fixed, parameterised queries from ``graph.read``."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from api.context import current_config, current_graph
from api.diversify import diversify_args, rerank
from api.errors import ApiProblem, bad_param, not_found
from api.feedback import current_feedback
from api.params import bool_arg, check_id, choice_arg, id_arg, int_arg, known, list_arg
from graph import read

bp = Blueprint("v1", __name__, url_prefix="/v1")

DEFAULT_LIMIT = 20
DEFAULT_K = 10
DEFAULT_NODES = 100
EXPLAIN_PATHS = 10


def _page() -> read.Page:
    cfg = current_config()
    return read.Page(limit=int_arg("limit", DEFAULT_LIMIT, 1, cfg.max_limit),
                     offset=int_arg("offset", 0, 0, cfg.max_offset))


def _paged(body: dict[str, Any], page: read.Page) -> dict[str, Any]:
    return {**body, "limit": page.limit, "offset": page.offset}


@bp.get("/users/<path:user_id>/interests")
def user_interests(user_id: str):
    """The user's topics: active model run, else decayed interests, else declared topics (``strategy``);
    topics the user is not interested in are left out, declared ones marked."""
    known("limit", "offset")
    user_id = check_id("id", user_id)
    page = _page()
    result = read.user_interests(current_graph(), user_id, page, current_config().half_life_days)
    if result is None:
        raise not_found("user", user_id)
    return _paged({"user": user_id, **result}, page)


@bp.get("/users/<path:user_id>/neighborhood")
def user_neighborhood(user_id: str):
    """Nodes and edges around the user, for a graph widget."""
    known("depth", "limit", "rel", "embeddings")
    cfg = current_config()
    user_id = check_id("id", user_id)
    depth = int_arg("depth", 1, 1, cfg.max_depth)
    limit = int_arg("limit", min(DEFAULT_NODES, cfg.max_nodes), 1, cfg.max_nodes)
    rels = list_arg("rel", read.NEIGHBORHOOD_RELS) or read.NEIGHBORHOOD_RELS
    embeddings = bool_arg("embeddings", False)
    result = read.neighborhood(current_graph(), user_id, depth, limit, rels, embeddings)
    if result is None:
        raise not_found("user", user_id)
    return {"user": user_id, "depth": depth, "limit": limit, "rel": list(rels), **result}


@bp.get("/users/<path:user_id>/recommendations")
def user_recommendations(user_id: str):
    """Top-k content down the cold-start ladder (graph.coldstart; strategy named per item), feedback applied."""
    known("k", "topic", "exclude_seen", "diversity", "per_topic_cap")
    cfg = current_config()
    user_id = check_id("id", user_id)
    k = int_arg("k", DEFAULT_K, 1, cfg.max_limit)
    topic = id_arg("topic")
    exclude_seen = bool_arg("exclude_seen", True)
    diversify = diversify_args(cfg.max_limit)
    g = current_graph()
    if topic is not None and not read.exists(g, "Topic", topic):
        raise ApiProblem(404, "topic_not_found", f"no topic with id {topic!r}", param="topic")
    result = read.recommendations(g, user_id, diversify.pool_size(k), topic=topic, exclude_seen=exclude_seen,
                                  half_life_days=cfg.half_life_days, feedback=current_feedback())
    if result is None:
        raise not_found("user", user_id)
    result = rerank(g, result, k, diversify)
    return {"user": user_id, "k": k, "topic": topic, "exclude_seen": exclude_seen, **result}


@bp.get("/users/<path:user_id>/similar")
def user_similar(user_id: str):
    """Nearest users by embedding (vector index ``user_emb_gnn``, else ``user_emb_behavior``)."""
    known("k", "modality")
    user_id = check_id("id", user_id)
    k = int_arg("k", DEFAULT_K, 1, current_config().max_limit)
    modality = choice_arg("modality", read.USER_MODALITIES, None)
    try:
        result = read.similar_users(current_graph(), user_id, k, modality)
    except LookupError as e:
        if e.args[0] == "user":
            raise not_found("user", user_id) from None
        raise ApiProblem(422, "embedding_missing", f"user {user_id!r} has no {e.args[0]} embedding") from None
    return {"user": user_id, "k": k, **result}


@bp.get("/content/<path:content_id>/similar")
def content_similar(content_id: str):
    """Nearest content by one modality's vector index, optionally filtered by kind or topic."""
    known("k", "modality", "kind", "topic")
    content_id = check_id("id", content_id)
    k = int_arg("k", DEFAULT_K, 1, current_config().max_limit)
    modality = choice_arg("modality", read.CONTENT_MODALITIES, "fused")
    kind = id_arg("kind")
    topic = id_arg("topic")
    try:
        result = read.similar_content(current_graph(), content_id, k, modality, kind=kind, topic=topic)
    except LookupError as e:
        if e.args[0] == "content":
            raise not_found("content", content_id) from None
        raise ApiProblem(422, "embedding_missing",
                         f"content {content_id!r} has no {e.args[0]} embedding", param="modality") from None
    return {"content": content_id, "k": k, "modality": modality, "kind": kind, "topic": topic, **result}


@bp.get("/users/<path:user_id>/explain")
def user_explain(user_id: str):
    """The strongest graph paths from the user to a content item (or topic), with weights."""
    known("content", "topic", "limit")
    user_id = check_id("id", user_id)
    content = id_arg("content")
    topic = id_arg("topic")
    if (content is None) == (topic is None):
        raise bad_param("content", "give exactly one of content and topic")
    limit = int_arg("limit", EXPLAIN_PATHS, 1, current_config().max_limit)
    try:
        result = read.explain(current_graph(), user_id, limit, content=content, topic=topic)
    except LookupError as e:
        what = e.args[0]
        node_id = {"user": user_id, "content": content, "topic": topic}[what]
        raise ApiProblem(404, f"{what}_not_found", f"no {what} with id {node_id!r}",
                         param="id" if what == "user" else what) from None
    return {"user": user_id, "content": content, "topic": topic, **result}


@bp.get("/topics/<path:topic_id>/users")
def topic_users(topic_id: str):
    """The users most interested in a topic (active run, else decayed interests)."""
    known("limit", "offset")
    topic_id = check_id("id", topic_id)
    page = _page()
    result = read.topic_users(current_graph(), topic_id, page, current_config().half_life_days)
    if result is None:
        raise not_found("topic", topic_id)
    return _paged({"topic": topic_id, **result}, page)


