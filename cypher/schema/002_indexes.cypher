// Lookup indexes for the API, the Cypher library and write-back.
CREATE INDEX topic_name IF NOT EXISTS FOR (t:Topic) ON (t.name);
CREATE INDEX topic_source IF NOT EXISTS FOR (t:Topic) ON (t.source);
CREATE INDEX content_kind IF NOT EXISTS FOR (c:Content) ON (c.kind);
CREATE INDEX content_title IF NOT EXISTS FOR (c:Content) ON (c.title);
CREATE INDEX model_run_active IF NOT EXISTS FOR (r:ModelRun) ON (r.active);
CREATE INDEX interacted_ts IF NOT EXISTS FOR ()-[r:INTERACTED]-() ON (r.ts);
CREATE INDEX interacted_kind IF NOT EXISTS FOR ()-[r:INTERACTED]-() ON (r.kind);
CREATE INDEX interested_in_run IF NOT EXISTS FOR ()-[r:INTERESTED_IN]-() ON (r.run_id);
CREATE INDEX may_like_run IF NOT EXISTS FOR ()-[r:MAY_LIKE]-() ON (r.run_id);
