"""Cypher of batch ingestion: one UNWIND statement per stage, MERGE on the unique ids.

Interactions use graph.events.MERGE_INTERACTIONS (shared with the real-time path).
"""
from __future__ import annotations

UPSERT_TOPICS = """
UNWIND $rows AS row
MERGE (t:Topic {id: row.id})
SET t += row.props
"""

UPSERT_SUBTOPICS = """
UNWIND $rows AS row
MATCH (t:Topic {id: row.id})
MATCH (p:Topic {id: row.parent})
MERGE (t)-[:SUBTOPIC_OF]->(p)
"""

UPSERT_USERS = """
UNWIND $rows AS row
MERGE (u:User {id: row.id})
SET u += row.props,
    u.created_at = CASE WHEN row.created_at IS NULL THEN null ELSE datetime({epochMillis: row.created_at}) END
"""

# Vectors are stored as float32 with db.create.setNodeVectorProperty; a modality without a vector
# in this load has its vector, model and dimension removed, so a rerun converges on the same node.
UPSERT_CONTENT = """
UNWIND $rows AS row
MERGE (c:Content {id: row.id})
SET c += row.props,
    c.created_at = CASE WHEN row.created_at IS NULL THEN null ELSE datetime({epochMillis: row.created_at}) END
WITH c, row
CALL (c, row) {
  WITH c, row WHERE row.embed
  SET c.modalities_missing = row.missing,
      c.emb_text_model = row.emb_text_model, c.emb_text_dim = row.emb_text_dim,
      c.emb_image_model = row.emb_image_model, c.emb_image_dim = row.emb_image_dim,
      c.emb_audio_model = row.emb_audio_model, c.emb_audio_dim = row.emb_audio_dim
  FOREACH (_ IN CASE WHEN row.emb_text IS NULL THEN [1] ELSE [] END | REMOVE c.emb_text)
  FOREACH (_ IN CASE WHEN row.emb_image IS NULL THEN [1] ELSE [] END | REMOVE c.emb_image)
  FOREACH (_ IN CASE WHEN row.emb_audio IS NULL THEN [1] ELSE [] END | REMOVE c.emb_audio)
}
CALL (c, row) {
  WITH c, row WHERE row.emb_text IS NOT NULL
  CALL db.create.setNodeVectorProperty(c, 'emb_text', row.emb_text)
}
CALL (c, row) {
  WITH c, row WHERE row.emb_image IS NOT NULL
  CALL db.create.setNodeVectorProperty(c, 'emb_image', row.emb_image)
}
CALL (c, row) {
  WITH c, row WHERE row.emb_audio IS NOT NULL
  CALL db.create.setNodeVectorProperty(c, 'emb_audio', row.emb_audio)
}
"""

UPSERT_CONTENT_TOPICS = """
UNWIND $rows AS row
MATCH (c:Content {id: row.content})
MATCH (t:Topic {id: row.topic})
MERGE (c)-[h:HAS_TOPIC]->(t)
SET h.weight = row.weight
"""

UPSERT_FOLLOWS = """
UNWIND $rows AS row
MATCH (a:User {id: row.src})
MATCH (b:User {id: row.dst})
MERGE (a)-[f:FOLLOWS]->(b)
SET f.ts = CASE WHEN row.ts IS NULL THEN null ELSE datetime({epochMillis: row.ts}) END
"""

# New interactions (checked against EXISTING_INTERACTIONS just before) are CREATEd: MERGE would
# also work, but on a graph with few INTERACTED relationships the planner picks the `ts` range
# index for MERGE's lookup, and that lookup scans the batch's own uncommitted relationships
# (measured: 20k rows in 355 s instead of 3 s). Already stored ones go through
# graph.events.MERGE_INTERACTIONS, so the result is the same as MERGE for every row.
CREATE_INTERACTIONS = """
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MATCH (c:Content {id: row.content})
CREATE (u)-[:INTERACTED {kind: row.kind, ts: datetime({epochMillis: row.ts}), weight: row.weight,
                         rating: row.rating}]->(c)
"""

EXISTING_INTERACTIONS = """
UNWIND $users AS uid
MATCH (u:User {id: uid})-[r]->(c:Content) WHERE type(r) = $interacted
RETURN collect([u.id, c.id, r.kind, r.ts.epochMillis]) AS keys
"""

SET_BEHAVIOR = """
UNWIND $rows AS row
MATCH (u:User {id: row.id})
CALL db.create.setNodeVectorProperty(u, 'emb_behavior', row.vec)
SET u.emb_behavior_model = row.model, u.emb_behavior_dim = row.dim
"""

CLEAR_BEHAVIOR = """
UNWIND $ids AS id
MATCH (u:User {id: id})
REMOVE u.emb_behavior, u.emb_behavior_model, u.emb_behavior_dim
"""

# Per-user activity for the behaviour features (one record per user, lists collected server-side).
# Only positive interaction kinds count: feedback (dislike, hide, ...) is not activity.
# Relationship types are compared as parameters so that a graph without FOLLOWS (or without any
# interaction yet) gives no "unknown relationship type" warnings.
USER_ACTIVITY = """
UNWIND $ids AS id
MATCH (u:User {id: id})
OPTIONAL MATCH (u)-[r]->(c:Content) WHERE type(r) = $interacted AND r.kind IN $kinds
WITH u, collect(r.kind) AS kinds, collect(r.rating) AS ratings, collect(r.ts.epochMillis) AS ts,
     count(DISTINCT c) AS items
RETURN u.id AS id, kinds, ratings, ts, items,
       COUNT { (u)-[f]->(:User) WHERE type(f) = $follows } AS following,
       COUNT { (u)<-[f]-(:User) WHERE type(f) = $follows } AS followers
"""

# Whether any interaction is stored (a load into a graph without any can CREATE every row).
ANY_INTERACTION = "MATCH ()-[r]->() WHERE type(r) = $interacted RETURN 1 AS found LIMIT 1"

LATEST_INTERACTION = ("MATCH ()-[r]->() WHERE type(r) = $interacted AND r.kind IN $kinds "
                      "RETURN max(r.ts).epochMillis AS ms")

# Which of the given ids already exist in the graph (one constant per label: index seeks).
EXISTING_USERS = "UNWIND $ids AS id MATCH (n:User {id: id}) RETURN collect(id) AS ids"
EXISTING_CONTENT = "UNWIND $ids AS id MATCH (n:Content {id: id}) RETURN collect(id) AS ids"
EXISTING_TOPICS = "UNWIND $ids AS id MATCH (n:Topic {id: id}) RETURN collect(id) AS ids"

EXISTING_VECTOR_DIMS = """
SHOW VECTOR INDEXES YIELD labelsOrTypes, properties, options
RETURN labelsOrTypes[0] AS label, properties[0] AS prop, options.indexConfig.`vector.dimensions` AS dim
"""
