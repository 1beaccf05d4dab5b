// A user's neighbourhood for Neo4j Browser: interests, recent content, recommendations, topics.
//
// Draws the user, their active-run INTERESTED_IN topics as virtual relationships whose type
// carries the strength (INTERESTED_IN_HIGH / _MID / _LOW by the score relative to the user's
// strongest and weakest shown interest, so the Browser style draws thick, medium and thin
// lines), their most recent interactions, the active run's top recommendations (MAY_LIKE) and
// the HAS_TOPIC links between the shown content and topics. Virtual relationships (APOC) exist
// only in the result, never in the database.
//
// @param user_id: string                 the user's id
// @param k: int = 5                      interests to draw (INTERESTED_IN rank <= k)
// @param recent: int = 8                 most recent interactions to draw
// @param recs: int = 3                   recommendations to draw (MAY_LIKE rank <= recs)
// @column user: node                     the user
// @column interests: list<relationship>  virtual INTERESTED_IN_HIGH/_MID/_LOW relationships
// @column topics: list<node>             the topics of those interests
// @column interactions: list<relationship>  the most recent INTERACTED relationships
// @column recommendations: list<relationship>  the top MAY_LIKE relationships of the active run
// @column content: list<node>            content interacted with or recommended
// @column topic_links: list<relationship>  HAS_TOPIC between shown content and shown topics
// @example ikg cypher run user_neighbourhood --param user_id=1 --format json
// @requires apoc
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (run:ModelRun {active: true})
CALL (u, run) {
  OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(t:Topic)
  WHERE i.run_id = run.id AND i.rank <= $k
  WITH i, t ORDER BY i.rank
  RETURN collect(i) AS model_edges, collect(t) AS topics, max(i.score) AS top, min(i.score) AS bottom
}
CALL (u) {
  OPTIONAL MATCH (u)-[r:INTERACTED]->(c:Content)
  WITH r, c ORDER BY r.ts DESC LIMIT $recent
  RETURN collect(r) AS interactions, collect(c) AS seen
}
CALL (u, run) {
  OPTIONAL MATCH (u)-[m:MAY_LIKE]->(c:Content)
  WHERE m.run_id = run.id AND m.rank <= $recs
  RETURN collect(m) AS recommendations, collect(c) AS recommended
}
WITH u, model_edges, topics, top, bottom, interactions, recommendations, seen + recommended AS content
CALL (content, topics) {
  UNWIND content AS c
  MATCH (c)-[h:HAS_TOPIC]->(t:Topic)
  WHERE t IN topics
  RETURN collect(DISTINCT h) AS topic_links
}
RETURN u AS user,
       [i IN model_edges |
          apoc.create.vRelationship(u,
            CASE WHEN top = bottom OR (i.score - bottom) / (top - bottom) >= 0.67 THEN 'INTERESTED_IN_HIGH'
                 WHEN (i.score - bottom) / (top - bottom) >= 0.33 THEN 'INTERESTED_IN_MID'
                 ELSE 'INTERESTED_IN_LOW' END,
            {score: i.score, rank: i.rank, run_id: i.run_id}, endNode(i))] AS interests,
       topics, interactions, recommendations, content, topic_links
