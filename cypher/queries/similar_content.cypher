// Similar content through a vector index (db.index.vector.queryNodes), with shared topics.
//
// Uses the item's own embedding as the query vector: emb_fused (default), emb_text, emb_image,
// emb_audio or emb_gnn, each with its index content_emb_<name> (see graph/README.md).
// Similarity is Neo4j's cosine score in [0, 1]. No rows if the item lacks that embedding.
//
// @param content_id: string                                              the item's id, e.g. movie:1
// @param embedding: string in (fused, text, image, audio, gnn) = fused   which embedding and index to use
// @param k: int = 10                                                     neighbours to return
// @column content_id: string                                             the similar item's id
// @column title: string                                                  its title
// @column kind: string                                                   its kind (movie, post, ...)
// @column similarity: float                                              cosine score in [0, 1]
// @column shared_topics: list<string>                                    topics both items have
// @example ikg cypher run similar_content --param content_id=movie:1 --param embedding=text
MATCH (c:Content {id: $content_id})
WITH c, c['emb_' + $embedding] AS query_vector
WHERE query_vector IS NOT NULL
CALL db.index.vector.queryNodes('content_emb_' + $embedding, $k + 1, query_vector) YIELD node, score
WITH c, node, score WHERE node <> c
CALL (c, node) {
  OPTIONAL MATCH (c)-[:HAS_TOPIC]->(t:Topic)<-[:HAS_TOPIC]-(node)
  WITH t ORDER BY t.name
  RETURN collect(t.name) AS shared_topics
}
RETURN node.id AS content_id, node.title AS title, node.kind AS kind, score AS similarity, shared_topics
ORDER BY similarity DESC, content_id
LIMIT $k
