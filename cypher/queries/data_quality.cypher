// Data-quality checks: orphans, missing embeddings, duplicate titles, broken model edges.
//
// One row per check, also when it finds nothing (count 0), so a clean graph shows every check
// passing. Missing modalities listed in modalities_missing are still counted: a missing
// embedding is a missing property (never a zero vector), so the count is what the vector
// indexes cannot see.
//
// @param examples: int = 5          ids (or titles) to show per check
// @column issue: string             what is checked
// @column count: int                how many nodes, groups or edges have the issue (active runs: how many)
// @column examples: list<string>    a few of them, sorted
// @example ikg cypher run data_quality --format table
CALL () {
  MATCH (u:User) WHERE NOT EXISTS { (u)-[:INTERACTED]->() }
  WITH u ORDER BY u.id
  WITH count(u) AS count, collect(u.id)[..$examples] AS examples
  RETURN 'user without interactions' AS issue, count, examples
  UNION ALL
  MATCH (c:Content) WHERE NOT EXISTS { (c)-[:HAS_TOPIC]->() }
  WITH c ORDER BY c.id
  WITH count(c) AS count, collect(c.id)[..$examples] AS examples
  RETURN 'content without topics' AS issue, count, examples
  UNION ALL
  MATCH (c:Content) WHERE NOT EXISTS { (c)<-[:INTERACTED]-() }
  WITH c ORDER BY c.id
  WITH count(c) AS count, collect(c.id)[..$examples] AS examples
  RETURN 'content without interactions' AS issue, count, examples
  UNION ALL
  MATCH (t:Topic) WHERE NOT EXISTS { (t)--() }
  WITH t ORDER BY t.id
  WITH count(t) AS count, collect(t.id)[..$examples] AS examples
  RETURN 'topic without any relationship' AS issue, count, examples
  UNION ALL
  UNWIND ['emb_text', 'emb_image', 'emb_audio', 'emb_fused', 'emb_gnn'] AS prop
  CALL (prop) {
    MATCH (c:Content) WHERE c[prop] IS NULL
    WITH c ORDER BY c.id
    RETURN count(c) AS count, collect(c.id)[..$examples] AS examples
  }
  RETURN 'content missing ' + prop AS issue, count, examples
  UNION ALL
  UNWIND ['emb_behavior', 'emb_gnn'] AS prop
  CALL (prop) {
    MATCH (u:User) WHERE u[prop] IS NULL
    WITH u ORDER BY u.id
    RETURN count(u) AS count, collect(u.id)[..$examples] AS examples
  }
  RETURN 'user missing ' + prop AS issue, count, examples
  UNION ALL
  MATCH (c:Content) WHERE c.title IS NOT NULL
  WITH c ORDER BY c.id
  WITH toLower(trim(c.title)) AS title, collect(c.id) AS ids
  WHERE size(ids) > 1
  WITH title, ids ORDER BY title
  WITH count(title) AS count,
       collect(title + ' (' + reduce(s = '', id IN ids | s + CASE WHEN s = '' THEN '' ELSE ', ' END + id) + ')')[..$examples] AS examples
  RETURN 'duplicate content title' AS issue, count, examples
  UNION ALL
  MATCH (u:User)-[r:INTERACTED]->(c:Content) WHERE r.ts IS NULL
  WITH u, c ORDER BY u.id, c.id
  WITH count(*) AS count, collect(u.id + '->' + c.id)[..$examples] AS examples
  RETURN 'interaction without ts' AS issue, count, examples
  UNION ALL
  MATCH ()-[e:INTERESTED_IN|MAY_LIKE]->() WHERE e.run_id IS NOT NULL
  WITH DISTINCT e.run_id AS run_id
  WHERE NOT EXISTS { MATCH (:ModelRun {id: run_id}) }
  WITH run_id ORDER BY run_id
  WITH count(run_id) AS count, collect(run_id)[..$examples] AS examples
  RETURN 'model edges of an unknown run' AS issue, count, examples
  UNION ALL
  OPTIONAL MATCH (run:ModelRun {active: true})
  WITH run ORDER BY run.id
  WITH collect(run.id) AS ids
  RETURN 'active model runs (should be exactly 1 once a model ran)' AS issue, size(ids) AS count,
         ids[..$examples] AS examples
}
RETURN issue, count, examples
