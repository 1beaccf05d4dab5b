"""Load a small hand-written sample graph (a single idempotent Cypher statement) in one transaction."""
from __future__ import annotations

from pathlib import Path
from typing import LiteralString, cast

from graph.db import Graph

COUNT_QUERY = """
MATCH (n) WHERE n:User OR n:Content OR n:Topic
WITH count(n) AS nodes
OPTIONAL MATCH (:User|Content|Topic)-[r]->()
RETURN nodes, count(r) AS relationships
"""


def load_sample_graph(g: Graph, path: Path) -> dict[str, int]:
    """Run the file's statement (comments stripped) in one write transaction; return graph counts."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))
    g.write(cast(LiteralString, text))
    return g.read(COUNT_QUERY)[0]
