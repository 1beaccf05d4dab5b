"""A generated synthetic world loads through `ikg ingest`'s pipeline with nothing rejected."""
from __future__ import annotations

import json

from ingestion.pipeline import IngestConfig, ingest_paths
from ingestion.synth.generate import GenerateOptions, generate
from ingestion.synth.world import WorldConfig

COUNTS = """
MATCH (u:User) WITH count(u) AS users
MATCH (c:Content) WITH users, count(c) AS content,
     sum(CASE WHEN c.emb_text IS NOT NULL AND c.emb_image IS NOT NULL AND c.emb_audio IS NOT NULL
              THEN 1 ELSE 0 END) AS embedded
MATCH (t:Topic) WITH users, content, embedded, count(t) AS topics
RETURN users, content, embedded, topics,
       COUNT { ()-[:SUBTOPIC_OF]->() } AS subtopic_of,
       COUNT { ()-[:HAS_TOPIC]->() } AS content_topics,
       COUNT { ()-[:INTERACTED]->() } AS interactions,
       COUNT { ()-[:FOLLOWS]->() } AS follows
"""


def test_synthetic_world_ingests_cleanly_with_embeddings(graph, tmp_path):
    cfg = WorldConfig(n_users=30, n_content=24, n_topics=6, seed=11)
    out = tmp_path / "world"
    generate(cfg, out, GenerateOptions(progress=False))
    summary = ingest_paths(graph, [out], IngestConfig(progress=False))
    assert summary.rejected == 0
    rows = json.loads((out / "truth" / "world.json").read_text())["tables"]
    got = graph.read(COUNTS)[0]
    assert got == {"users": cfg.n_users, "content": cfg.n_content, "embedded": cfg.n_content,
                   "topics": rows["topics"], "subtopic_of": cfg.n_topics,
                   "content_topics": rows["content_topics"], "interactions": rows["interactions"],
                   "follows": rows["follows"]}


def test_csv_world_reads_without_rejects(tmp_path):
    from ingestion.quarantine import ErrorPolicy
    from ingestion.readers import read_dataset

    out = tmp_path / "csv"
    generate(WorldConfig(n_users=40, n_content=20, n_topics=6, seed=4), out,
             GenerateOptions(fmt="csv", progress=False))
    policy = ErrorPolicy("quarantine")
    ds = read_dataset([out], policy, {"text": 384, "image": 1280, "audio": 120})
    rows = json.loads((out / "truth" / "world.json").read_text())["tables"]
    assert policy.rejected == []
    assert ds.rows_read == {t: rows[t] for t in ("users", "topics", "content", "content_topics",
                                                  "interactions", "follows")}
    assert all(c.image is not None and c.image.is_file() for c in ds.table("content"))
