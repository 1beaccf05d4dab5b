// The model runs written back to the graph, newest first, with their edge counts and metrics.
//
// Exactly one run should be active: readers (API, this library) use only its edges. Use the
// ids with compare_runs / compare_runs_rank_changes.
//
// @column run_id: string          the ModelRun id (e.g. sage-20261124T070501-3f2a)
// @column model: string           model name (sage, gcn, ...)
// @column active: bool            true for the run readers use
// @column created_at: datetime    when the run was trained
// @column interests: int          its INTERESTED_IN edges
// @column recommendations: int    its MAY_LIKE edges
// @column metrics: string         validation/test metrics (JSON)
// @example ikg cypher run model_runs --format json
MATCH (run:ModelRun)
CALL (run) {
  OPTIONAL MATCH ()-[i:INTERESTED_IN {run_id: run.id}]->()
  RETURN count(i) AS interests
}
CALL (run) {
  OPTIONAL MATCH ()-[m:MAY_LIKE {run_id: run.id}]->()
  RETURN count(m) AS recommendations
}
RETURN run.id AS run_id, run.model AS model, coalesce(run.active, false) AS active,
       run.created_at AS created_at, interests, recommendations, run.metrics AS metrics
ORDER BY created_at DESC, run_id
