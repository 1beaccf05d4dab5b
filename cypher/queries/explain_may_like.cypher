// Why might a user like an item: the graph paths behind a MAY_LIKE edge of the active run.
//
// Three kinds of evidence, strongest first:
//   model interest - (u)-[:INTERESTED_IN]->(topic)<-[:HAS_TOPIC]-(item), active run; strength = score * weight
//   history        - (u)-[:INTERACTED]->(seen)-[:HAS_TOPIC]->(topic)<-[:HAS_TOPIC]-(item); strength = product of weights
//   followed user  - (u)-[:FOLLOWS]->(friend)-[:INTERACTED]->(item); strength = the friend's interaction weight
// The recommendation columns are null when the active run does not recommend the item (so it
// also answers "why not?"). The path column draws the evidence in Neo4j Browser.
//
// @param user_id: string            the user's id
// @param content_id: string         the recommended item's id
// @param limit: int = 20            evidence rows to return
// @column run_id: string            the active run's id
// @column rec_rank: int             rank of the item in the user's MAY_LIKE list (null: not recommended)
// @column rec_score: float          its MAY_LIKE score (null: not recommended)
// @column reason: string            model interest, history or followed user
// @column via_id: string            id of the topic, seen item or followed user the path goes through
// @column via: string               its name or title
// @column strength: float           how strong this piece of evidence is
// @column path: path                the path itself
// @example ikg cypher run explain_may_like --param user_id=1 --param content_id=movie:50
MATCH (u:User {id: $user_id}), (c:Content {id: $content_id})
OPTIONAL MATCH (run:ModelRun {active: true})
OPTIONAL MATCH (u)-[m:MAY_LIKE]->(c) WHERE m.run_id = run.id
CALL (u, c, run) {
  MATCH p = (u)-[i:INTERESTED_IN]->(t:Topic)<-[h:HAS_TOPIC]-(c)
  WHERE i.run_id = run.id
  RETURN 'model interest' AS reason, t.id AS via_id, t.name AS via, i.score * h.weight AS strength, p AS path
  UNION ALL
  MATCH p = (u)-[r:INTERACTED]->(seen:Content)-[h1:HAS_TOPIC]->(t:Topic)<-[h2:HAS_TOPIC]-(c)
  WHERE seen <> c
  RETURN 'history' AS reason, seen.id AS via_id, seen.title + ' (' + t.name + ')' AS via,
         r.weight * h1.weight * h2.weight AS strength, p AS path
  UNION ALL
  MATCH p = (u)-[:FOLLOWS]->(friend:User)-[r:INTERACTED]->(c)
  RETURN 'followed user' AS reason, friend.id AS via_id, coalesce(friend.name, friend.id) AS via,
         r.weight AS strength, p AS path
}
RETURN run.id AS run_id, m.rank AS rec_rank, m.score AS rec_score, reason, via_id, via, strength, path
ORDER BY strength DESC, reason, via_id
LIMIT $limit
