// Rank changes between two model runs, per user and item: new, dropped, up, down or same.
//
// `run` defaults to the active run, `baseline` to the newest other run. rank_change =
// baseline rank - run rank (positive: the item moved up in `run`). Restrict to one user with
// user_id. Summary over all users: compare_runs.
//
// @param run: string = null                                         run id; null: the active run
// @param baseline: string = null                                    run id; null: the newest other run
// @param relation: string in (MAY_LIKE, INTERESTED_IN) = MAY_LIKE   which model edges to compare
// @param k: int = 10                                                list length (rank <= k)
// @param user_id: string = null                                     only this user; null: everyone
// @param limit: int = 100                                           rows to return
// @column user_id: string                                           the user's id
// @column item_id: string                                           the content or topic id
// @column item: string                                              its title or name
// @column rank_run: int                                             rank in `run` (null: not in its top k)
// @column rank_baseline: int                                        rank in `baseline` (null: not in its top k)
// @column rank_change: int                                          rank_baseline - rank_run (null unless in both)
// @column status: string                                            new, dropped, up, down or same
// @example ikg cypher run compare_runs_rank_changes --param user_id=1
OPTIONAL MATCH (active:ModelRun {active: true})
WITH coalesce($run, active.id) AS run_id
OPTIONAL MATCH (other:ModelRun) WHERE other.id <> run_id
WITH run_id, other ORDER BY other.created_at DESC, other.id
WITH run_id, coalesce($baseline, head(collect(other.id))) AS baseline_id
MATCH (u:User)-[e:MAY_LIKE|INTERESTED_IN]->(x)
WHERE ($user_id IS NULL OR u.id = $user_id)
  AND type(e) = $relation AND e.run_id IN [run_id, baseline_id] AND e.rank <= $k
WITH u, x, run_id, baseline_id, collect(e) AS edges
WITH u, x, [y IN edges WHERE y.run_id = run_id][0].rank AS rank_run,
     [y IN edges WHERE y.run_id = baseline_id][0].rank AS rank_base
RETURN u.id AS user_id, x.id AS item_id, coalesce(x.title, x.name) AS item,
       rank_run, rank_base AS rank_baseline, rank_base - rank_run AS rank_change,
       CASE WHEN rank_base IS NULL THEN 'new' WHEN rank_run IS NULL THEN 'dropped'
            WHEN rank_run < rank_base THEN 'up' WHEN rank_run > rank_base THEN 'down' ELSE 'same' END AS status
ORDER BY user_id, coalesce(rank_run, 1000000 + rank_base), item_id
LIMIT $limit
