// Compare two model runs: overlap@k, Jaccard and rank changes of their per-user top-k lists.
//
// `run` defaults to the active run, `baseline` to the newest other run. For every user with a
// top-k list in both runs: overlap@k = |run ∩ baseline| / max(list lengths) (= / k for full
// lists) and Jaccard; rank changes are averaged over items in both lists. One row.
// Details per user and item: compare_runs_rank_changes.
//
// @param run: string = null                                         run id; null: the active run
// @param baseline: string = null                                    run id; null: the newest other run
// @param relation: string in (MAY_LIKE, INTERESTED_IN) = MAY_LIKE   which model edges to compare
// @param k: int = 10                                                list length (rank <= k)
// @column run: string                                               the run compared
// @column baseline: string                                          the run compared against
// @column users_compared: int                                       users with a list in both runs
// @column users_only_one: int                                       users with a list in just one of them
// @column mean_overlap_at_k: float                                  average overlap@k
// @column mean_jaccard: float                                       average Jaccard of the two lists
// @column mean_abs_rank_change: float                               average |rank change| of items in both lists
// @example ikg cypher run compare_runs --param relation=INTERESTED_IN --param k=5
OPTIONAL MATCH (active:ModelRun {active: true})
WITH coalesce($run, active.id) AS run_id
OPTIONAL MATCH (other:ModelRun) WHERE other.id <> run_id
WITH run_id, other ORDER BY other.created_at DESC, other.id
WITH run_id, coalesce($baseline, head(collect(other.id))) AS baseline_id
CALL (run_id, baseline_id) {
  MATCH (u:User)-[e:MAY_LIKE|INTERESTED_IN]->(x)
  WHERE type(e) = $relation AND e.run_id IN [run_id, baseline_id] AND e.rank <= $k
  WITH u, x, collect(e) AS edges
  WITH u, x, [y IN edges WHERE y.run_id = run_id][0].rank AS rank_run,
       [y IN edges WHERE y.run_id = baseline_id][0].rank AS rank_base
  WITH u, count(rank_run) AS n_run, count(rank_base) AS n_base,
       count(CASE WHEN rank_run IS NOT NULL AND rank_base IS NOT NULL THEN 1 END) AS shared,
       collect(CASE WHEN rank_run IS NOT NULL AND rank_base IS NOT NULL THEN abs(rank_run - rank_base) END) AS shifts
  RETURN count(CASE WHEN n_run > 0 AND n_base > 0 THEN 1 END) AS users_compared,
         count(CASE WHEN n_run = 0 OR n_base = 0 THEN 1 END) AS users_only_one,
         avg(CASE WHEN n_run > 0 AND n_base > 0
                  THEN toFloat(shared) / CASE WHEN n_run > n_base THEN n_run ELSE n_base END END) AS mean_overlap_at_k,
         avg(CASE WHEN n_run > 0 AND n_base > 0 THEN toFloat(shared) / (n_run + n_base - shared) END) AS mean_jaccard,
         reduce(acc = [], s IN collect(shifts) | acc + s) AS all_shifts
}
RETURN run_id AS run, baseline_id AS baseline, users_compared, users_only_one, mean_overlap_at_k, mean_jaccard,
       CASE WHEN size(all_shifts) = 0 THEN null
            ELSE toFloat(reduce(s = 0, x IN all_shifts | s + x)) / size(all_shifts) END AS mean_abs_rank_change
