// Top interests of a user: the active model's view and the decayed-interaction view side by side.
//
// Model view: the user's INTERESTED_IN edges of the ModelRun with active = true.
// Decayed view (the project's one definition, shared with the API and the GNN): for topic t,
// the sum over the user's INTERACTED edges r to content c with (c)-[h:HAS_TOPIC]->(t) of
// r.weight * h.weight * 0.5 ^ ((t_ref - r.ts) / half_life), t_ref = the user's latest interaction.
// One row per topic in the top k of either view; a rank is null when the topic is outside that
// view's top k. Sorted by the better of the two ranks. No rows if the user does not exist.
//
// @param user_id: string                 the user's id
// @param k: int = 10                     topics per view
// @param half_life_days: float = 30.0    half-life of the decay, in days
// @column topic_id: string               the topic's id
// @column topic: string                  the topic's name
// @column model_rank: int                rank in the active run's top k (null: not in it)
// @column model_score: float             the active run's score (null: not in its top k)
// @column decayed_rank: int              rank by decayed interest (null: not in its top k)
// @column decayed_score: float           decayed interest (null: not in its top k)
// @example ikg cypher run user_top_interests --param user_id=1 --param k=5
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (run:ModelRun {active: true})
CALL (u, run) {
  OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(t:Topic)
  WHERE i.run_id = run.id
  WITH t, i ORDER BY i.score DESC, t.id
  RETURN [x IN collect({t: t, s: i.score}) WHERE x.t IS NOT NULL][..$k] AS model_top
}
CALL (u) {
  OPTIONAL MATCH (u)-[last:INTERACTED]->(:Content)
  WITH max(last.ts) AS t_ref
  OPTIONAL MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
  WITH t, sum(r.weight * h.weight *
              0.5 ^ (duration.inSeconds(r.ts, t_ref).seconds / ($half_life_days * 86400.0))) AS score
  ORDER BY score DESC, t.id
  RETURN [x IN collect({t: t, s: score}) WHERE x.t IS NOT NULL][..$k] AS decayed_top
}
UNWIND [x IN model_top | x.t] + [x IN decayed_top | x.t] AS t
WITH DISTINCT t, model_top, decayed_top
WITH t, model_top, decayed_top,
     [i IN range(0, size(model_top) - 1) WHERE model_top[i].t = t][0] AS mi,
     [i IN range(0, size(decayed_top) - 1) WHERE decayed_top[i].t = t][0] AS di
RETURN t.id AS topic_id, t.name AS topic,
       mi + 1 AS model_rank, model_top[mi].s AS model_score,
       di + 1 AS decayed_rank, decayed_top[di].s AS decayed_score
ORDER BY CASE WHEN mi IS NULL THEN di WHEN di IS NULL OR mi <= di THEN mi ELSE di END, mi, topic_id
