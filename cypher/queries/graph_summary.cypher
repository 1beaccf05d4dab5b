// How big is the graph: nodes per label, relationships per type, and the active model run.
//
// Start here: it tells you whether ingestion ran (users, content, topics, interactions) and
// whether a model has written its interest edges back (ModelRun, INTERESTED_IN, MAY_LIKE).
// Counts come from the count store, so this is instant on any size.
//
// @column kind: string      node, relationship, or active_run
// @column name: string      the label, the relationship type, or the active run's id
// @column count: int        how many (for active_run: its INTERESTED_IN + MAY_LIKE edges)
// @example ikg cypher run graph_summary
CALL () {
  MATCH (n:User) WITH count(n) AS count RETURN 'node' AS kind, 'User' AS name, count
  UNION ALL
  MATCH (n:Content) WITH count(n) AS count RETURN 'node' AS kind, 'Content' AS name, count
  UNION ALL
  MATCH (n:Topic) WITH count(n) AS count RETURN 'node' AS kind, 'Topic' AS name, count
  UNION ALL
  MATCH (n:ModelRun) WITH count(n) AS count RETURN 'node' AS kind, 'ModelRun' AS name, count
  UNION ALL
  MATCH ()-[r:INTERACTED]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'INTERACTED' AS name, count
  UNION ALL
  MATCH ()-[r:HAS_TOPIC]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'HAS_TOPIC' AS name, count
  UNION ALL
  MATCH ()-[r:SUBTOPIC_OF]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'SUBTOPIC_OF' AS name, count
  UNION ALL
  MATCH ()-[r:FOLLOWS]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'FOLLOWS' AS name, count
  UNION ALL
  MATCH ()-[r:INTERESTED_IN]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'INTERESTED_IN' AS name, count
  UNION ALL
  MATCH ()-[r:MAY_LIKE]->() WITH count(r) AS count RETURN 'relationship' AS kind, 'MAY_LIKE' AS name, count
  UNION ALL
  MATCH (run:ModelRun {active: true})
  OPTIONAL MATCH ()-[e:INTERESTED_IN|MAY_LIKE {run_id: run.id}]->()
  RETURN 'active_run' AS kind, run.id AS name, count(e) AS count
}
RETURN kind, name, count
