// Similar users through a vector index (db.index.vector.queryNodes), with the topics they share.
//
// Uses the user's own embedding as the query vector: emb_gnn (index user_emb_gnn, written by
// GNN write-back) or emb_behavior (index user_emb_behavior). Similarity is Neo4j's cosine
// score in [0, 1] ((1 + cos) / 2). No rows if the user has no such embedding.
//
// @param user_id: string                                   the user's id
// @param embedding: string in (gnn, behavior) = gnn        which embedding and index to use
// @param k: int = 10                                       neighbours to return
// @column user_id: string                                  the similar user's id
// @column name: string                                     their name (may be null)
// @column age: int                                         their age (may be null)
// @column occupation: string                               their occupation (may be null)
// @column similarity: float                                cosine score in [0, 1]
// @column shared_topics: list<string>                      topics both have in the active run
// @example ikg cypher run similar_users --param user_id=1 --param k=5
MATCH (u:User {id: $user_id})
WITH u, u['emb_' + $embedding] AS query_vector
WHERE query_vector IS NOT NULL
CALL db.index.vector.queryNodes('user_emb_' + $embedding, $k + 1, query_vector) YIELD node, score
WITH u, node, score WHERE node <> u
OPTIONAL MATCH (run:ModelRun {active: true})
CALL (u, node, run) {
  OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(t:Topic)<-[j:INTERESTED_IN]-(node)
  WHERE i.run_id = run.id AND j.run_id = run.id
  WITH t ORDER BY t.name
  RETURN collect(t.name) AS shared_topics
}
RETURN node.id AS user_id, node.name AS name, node.age AS age, node.occupation AS occupation,
       score AS similarity, shared_topics
ORDER BY similarity DESC, user_id
LIMIT $k
