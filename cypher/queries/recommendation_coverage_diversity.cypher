// Beyond-accuracy metrics of the active run's recommendations: coverage, intra-list diversity, novelty, popularity.
//
// The same definitions as `ikg evaluate` (gnn/metrics.py), over the active run's MAY_LIKE lists
// (rank <= k): catalogue_coverage = distinct recommended items / all content;
// intra_list_diversity = mean over lists of the mean pairwise cosine distance (1 - cos) of the
// items' emb_<embedding> vectors (items without it are left out, lists with fewer than two such items
// are not counted; vector.similarity.cosine returns (1 + cos) / 2, converted back to cos);
// novelty = mean over list entries of -log2 p(i), p(i) = (users who interacted with i + 1) /
// (users with any interaction + 1); avg_popularity = mean number of users who interacted with a
// recommended item. One row; no rows when no run is active.
//
// @param k: int = 20                         list length to evaluate (MAY_LIKE rank <= k)
// @param embedding: string in (text, fused, image, audio, gnn) = text   content embedding (emb_<embedding>) for diversity
// @column run_id: string                     the active run
// @column model: string                      its model
// @column lists: int                         users with at least one recommendation
// @column items_recommended: int             distinct items recommended
// @column items_total: int                   all content items
// @column catalogue_coverage: float          items_recommended / items_total
// @column intra_list_diversity: float        mean pairwise cosine distance within a list (null: no list has two embedded items)
// @column novelty: float                     mean self-information -log2 p(i) of recommended items
// @column avg_popularity: float              mean interacting users per recommended item
// @example ikg cypher run recommendation_coverage_diversity --param k=20 --param embedding=text
MATCH (run:ModelRun {active: true})
CALL () { MATCH (c:Content) RETURN count(c) AS items_total }
CALL () {
  MATCH (u:User) WHERE EXISTS { (u)-[:INTERACTED]->(:Content) }
  RETURN count(u) AS active_users
}
CALL (run) {
  MATCH (u:User)-[m:MAY_LIKE]->(c:Content)
  WHERE m.run_id = run.id AND m.rank <= $k
  WITH u, [v IN collect(c['emb_' + $embedding]) WHERE v IS NOT NULL] AS vs
  WITH u, vs, size(vs) AS n
  WITH u, CASE WHEN n < 2 THEN null ELSE
         reduce(s = 0.0, i IN range(0, n - 2) | s + reduce(t = 0.0, j IN range(i + 1, n - 1) |
           t + 2.0 - 2.0 * vector.similarity.cosine(vs[i], vs[j]))) / (n * (n - 1) / 2.0)
       END AS ild
  RETURN count(u) AS lists, avg(ild) AS intra_list_diversity
}
CALL (run, active_users) {
  MATCH (:User)-[m:MAY_LIKE]->(c:Content)
  WHERE m.run_id = run.id AND m.rank <= $k
  WITH c, count(m) AS times
  WITH c, times, size(COLLECT { MATCH (c)<-[:INTERACTED]-(v:User) RETURN DISTINCT v.id }) AS pop
  RETURN count(c) AS items_recommended,
         CASE WHEN sum(times) = 0 THEN null
              ELSE sum(times * -log((pop + 1.0) / (active_users + 1.0)) / log(2.0)) / sum(times) END AS novelty,
         CASE WHEN sum(times) = 0 THEN null ELSE toFloat(sum(times * pop)) / sum(times) END AS avg_popularity
}
RETURN run.id AS run_id, run.model AS model, lists, items_recommended, items_total,
       CASE WHEN items_total = 0 THEN null ELSE toFloat(items_recommended) / items_total END AS catalogue_coverage,
       intra_list_diversity, novelty, avg_popularity
