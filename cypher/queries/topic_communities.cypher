// Topic communities: Louvain and Leiden (Graph Data Science) on the topic co-occurrence graph.
//
// Projects an in-memory, undirected graph of topics weighted by how many content items they
// share (see topic_cooccurrence), runs gds.louvain.stream and gds.leiden.stream on it, drops
// the projection, and returns one row per community and algorithm. Topics that share no
// content with another topic are not part of the projection. Needs the GDS plugin: the managed
// server ships it; `ikg cypher run` says so clearly when a server lacks it.
//
// @param source: string = null      only topics with this source; null means every topic
// @param min_count: int = 1         minimum shared content items for an edge
// @param seed: int = 42             Leiden's random seed (results are reproducible)
// @column algorithm: string         louvain or leiden
// @column community: int            community id (arbitrary, per algorithm)
// @column size: int                 topics in the community
// @column topic_ids: list<string>   the topics' ids, sorted
// @column topics: list<string>      the topics' names, in the same order
// @example ikg cypher run topic_communities --param source=genre
// @requires gds
MATCH (a:Topic)<-[:HAS_TOPIC]-(c:Content)-[:HAS_TOPIC]->(b:Topic)
WHERE a.id < b.id AND ($source IS NULL OR (a.source = $source AND b.source = $source))
WITH a, b, count(c) AS together
WHERE together >= $min_count
WITH gds.graph.project('ikg-topic-cooccurrence-' + randomUUID(), a, b,
                       {relationshipProperties: {weight: toFloat(together)}},
                       {undirectedRelationshipTypes: ['*']}) AS projection
CALL gds.louvain.stream(projection.graphName, {relationshipWeightProperty: 'weight', concurrency: 1})
  YIELD nodeId, communityId
WITH projection, collect({algorithm: 'louvain', node: nodeId, community: communityId}) AS louvain
CALL gds.leiden.stream(projection.graphName,
                       {relationshipWeightProperty: 'weight', concurrency: 1, randomSeed: $seed})
  YIELD nodeId, communityId
WITH projection, louvain, collect({algorithm: 'leiden', node: nodeId, community: communityId}) AS leiden
CALL gds.graph.drop(projection.graphName, false) YIELD graphName
UNWIND louvain + leiden AS row
WITH row.algorithm AS algorithm, row.community AS community, gds.util.asNode(row.node) AS t
ORDER BY t.id
WITH algorithm, community, collect(t.id) AS topic_ids, collect(t.name) AS topics
RETURN algorithm, community, size(topic_ids) AS size, topic_ids, topics
ORDER BY algorithm, size DESC, topic_ids[0]
