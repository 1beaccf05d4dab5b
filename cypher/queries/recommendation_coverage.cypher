// Coverage and diversity of the active model run's recommendations (MAY_LIKE, top k per user).
//
// user_coverage: share of users with at least one recommendation; catalogue_coverage: share of
// content recommended to anyone; mean_topics_per_list: distinct topics in a user's top k
// (intra-list diversity); exposure_gini: Gini coefficient of how often each item is
// recommended, over the whole catalogue (0 = even exposure, near 1 = a few items everywhere).
// One row; no rows when no run is active.
//
// @param k: int = 10                      list length to evaluate (MAY_LIKE rank <= k)
// @column run_id: string                  the active run
// @column model: string                   its model
// @column users_with_recs: int            users with at least one recommendation
// @column users_total: int                all users
// @column user_coverage: float            users_with_recs / users_total
// @column items_recommended: int          distinct items recommended
// @column items_total: int                all content items
// @column catalogue_coverage: float       items_recommended / items_total
// @column mean_list_length: float         average recommendations per user (users with any)
// @column mean_topics_per_list: float     average distinct topics in a user's list
// @column exposure_gini: float            Gini coefficient of item exposure
// @example ikg cypher run recommendation_coverage --param k=10
MATCH (run:ModelRun {active: true})
CALL () { MATCH (u:User) RETURN count(u) AS users_total }
CALL (run) {
  MATCH (u:User)-[m:MAY_LIKE]->(c:Content)
  WHERE m.run_id = run.id AND m.rank <= $k
  WITH u, collect(c) AS items
  CALL (items) {
    UNWIND items AS c
    OPTIONAL MATCH (c)-[:HAS_TOPIC]->(t:Topic)
    RETURN count(DISTINCT t) AS n_topics
  }
  RETURN count(u) AS users_with_recs, avg(toFloat(size(items))) AS mean_list_length,
         avg(toFloat(n_topics)) AS mean_topics_per_list
}
CALL (run) {
  MATCH (c:Content)
  OPTIONAL MATCH (:User)-[m:MAY_LIKE]->(c)
  WHERE m.run_id = run.id AND m.rank <= $k
  WITH c, count(m) AS exposure
  ORDER BY exposure
  WITH collect(exposure) AS xs
  WITH xs, size(xs) AS n, reduce(s = 0, x IN xs | s + x) AS total
  RETURN size([x IN xs WHERE x > 0]) AS items_recommended, n AS items_total,
         CASE WHEN total = 0 THEN null
              ELSE reduce(s = 0.0, i IN range(0, n - 1) | s + (2.0 * (i + 1) - n - 1) * xs[i]) / (n * total)
         END AS exposure_gini
}
RETURN run.id AS run_id, run.model AS model, users_with_recs, users_total,
       CASE WHEN users_total = 0 THEN null ELSE toFloat(users_with_recs) / users_total END AS user_coverage,
       items_recommended, items_total,
       CASE WHEN items_total = 0 THEN null ELSE toFloat(items_recommended) / items_total END AS catalogue_coverage,
       mean_list_length, mean_topics_per_list, exposure_gini
