"""Apply the graph schema: constraints and lookup indexes from ``cypher/schema/*.cypher``,
then one cosine vector index per embedding property with the configured dimension."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import LiteralString, cast

from graph.db import Graph
from graph.errors import ConfigError, GraphError
from graph.model import VECTOR_PROPERTIES, VectorProperty

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "cypher" / "schema"

# Index name, label and property come from the fixed VECTOR_PROPERTIES list, never from input;
# the dimension is a parameter.
_VECTOR_INDEX = {
    (vp.label, vp.prop): cast(LiteralString,
        f"CREATE VECTOR INDEX {vp.index_name} IF NOT EXISTS FOR (n:{vp.label}) ON (n.{vp.prop}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}")
    for vp in VECTOR_PROPERTIES
}

EXISTING_VECTOR_INDEXES = """
SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, options, state
RETURN name, labelsOrTypes[0] AS label, properties[0] AS prop,
       options.indexConfig.`vector.dimensions` AS dim, state
"""


def schema_statements(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Statements of every ``*.cypher`` file in order, comments stripped, split on ``;``."""
    statements = []
    for path in sorted(schema_dir.glob("*.cypher")):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))
        statements += [s.strip() for s in text.split(";") if s.strip()]
    return statements


def vector_dims(overrides: Mapping[tuple[str, str], int] | None = None) -> list[VectorProperty]:
    """The vector properties with their dimensions, defaults replaced by ``overrides``."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - {(vp.label, vp.prop) for vp in VECTOR_PROPERTIES}
    if unknown:
        raise ConfigError(f"unknown embedding properties {sorted(unknown)}")
    out = []
    for vp in VECTOR_PROPERTIES:
        dim = overrides.get((vp.label, vp.prop), vp.dim)
        if not 1 <= dim <= 4096:
            raise ConfigError(f"{vp.label}.{vp.prop}: vector dimension must be 1..4096, got {dim}")
        out.append(VectorProperty(vp.label, vp.prop, dim))
    return out


def apply(g: Graph, dims: Mapping[tuple[str, str], int] | None = None) -> dict[str, int]:
    """Create constraints and indexes (idempotent); returns counts of statements run.

    A vector index that exists with a different dimension is an error: silently keeping it
    would reject every new embedding.
    """
    wanted = vector_dims(dims)
    statements = schema_statements()
    for statement in statements:
        g.write(cast(LiteralString, statement))
    existing = {(r["label"], r["prop"]): r for r in g.read(EXISTING_VECTOR_INDEXES)}
    for vp in wanted:
        have = existing.get((vp.label, vp.prop))
        if have is not None and have["dim"] is not None and int(have["dim"]) != vp.dim:
            raise GraphError(f"vector index {have['name']} on {vp.label}.{vp.prop} has dimension "
                             f"{have['dim']}, but the configured encoder produces {vp.dim}; drop the "
                             f"index (DROP INDEX {have['name']}) and re-embed, or configure dimension {have['dim']}")
        g.write(_VECTOR_INDEX[(vp.label, vp.prop)], dim=vp.dim)
    g.write("CALL db.awaitIndexes(300)")
    logger.info("schema applied: %d statements, %d vector indexes", len(statements), len(wanted))
    return {"statements": len(statements), "vector_indexes": len(wanted)}
