// Users most interested in a topic, by the active model's score or by decayed interest.
//
// Candidates are the users with an INTERESTED_IN edge to the topic in the active run and the
// users who interacted with content of the topic. Decayed interest follows the project's one
// definition (see user_top_interests), with each user's own latest interaction as t_ref.
//
// @param topic_id: string                       the topic's id, e.g. genre:Drama
// @param k: int = 20                            users to return
// @param by: string in (model, decayed) = model which score ranks the users
// @param half_life_days: float = 30.0           half-life of the decay, in days
// @column user_id: string                       the user's id
// @column name: string                          the user's name (may be null)
// @column model_rank: int                       rank of this topic among the user's interests in the active run
// @column model_score: float                    the active run's score (null: no edge)
// @column decayed_score: float                  decayed interest of the user in the topic
// @example ikg cypher run topic_top_users --param topic_id=genre:Drama --param by=decayed
MATCH (t:Topic {id: $topic_id})
OPTIONAL MATCH (run:ModelRun {active: true})
CALL (t, run) {
  MATCH (u:User)-[i:INTERESTED_IN]->(t) WHERE i.run_id = run.id
  RETURN u
  UNION
  MATCH (u:User)-[:INTERACTED]->(:Content)-[:HAS_TOPIC]->(t)
  RETURN u
}
OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(t) WHERE i.run_id = run.id
CALL (u, t) {
  OPTIONAL MATCH (u)-[last:INTERACTED]->(:Content)
  WITH max(last.ts) AS t_ref
  OPTIONAL MATCH (t)<-[h:HAS_TOPIC]-(:Content)<-[r:INTERACTED]-(u)
  RETURN coalesce(sum(r.weight * h.weight *
           0.5 ^ (duration.inSeconds(r.ts, t_ref).seconds / ($half_life_days * 86400.0))), 0.0) AS decayed
}
RETURN u.id AS user_id, u.name AS name, i.rank AS model_rank, i.score AS model_score, decayed AS decayed_score
ORDER BY CASE $by WHEN 'model' THEN coalesce(i.score, -1.0e308) ELSE decayed END DESC,
         CASE $by WHEN 'model' THEN decayed ELSE coalesce(i.score, -1.0e308) END DESC, user_id
LIMIT $k
