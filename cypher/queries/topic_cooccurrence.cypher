// Topic co-occurrence: pairs of topics that label the same content, with counts and Jaccard.
//
// together = content items carrying both topics; jaccard = together / items carrying either
// (a HAS_TOPIC edge is unique per content and topic: ingestion MERGEs it).
// Use `source` to stay within one vocabulary (genre, kg, synthetic, ...).
//
// @param source: string = null      only topics with this source; null means every topic
// @param min_count: int = 1         minimum number of shared content items
// @param limit: int = 25            pairs to return
// @column topic_a_id: string        first topic's id (the smaller id of the pair)
// @column topic_a: string           first topic's name
// @column topic_b_id: string        second topic's id
// @column topic_b: string           second topic's name
// @column together: int             content items with both topics
// @column jaccard: float            together / content items with either topic
// @example ikg cypher run topic_cooccurrence --param source=genre --param limit=10
MATCH (a:Topic)<-[:HAS_TOPIC]-(c:Content)-[:HAS_TOPIC]->(b:Topic)
WHERE a.id < b.id AND ($source IS NULL OR (a.source = $source AND b.source = $source))
WITH a, b, count(c) AS together
WHERE together >= $min_count
WITH a, b, together, COUNT { (a)<-[:HAS_TOPIC]-() } AS na, COUNT { (b)<-[:HAS_TOPIC]-() } AS nb
RETURN a.id AS topic_a_id, a.name AS topic_a, b.id AS topic_b_id, b.name AS topic_b, together,
       toFloat(together) / (na + nb - together) AS jaccard
ORDER BY together DESC, jaccard DESC, topic_a_id, topic_b_id
LIMIT $limit
