// Discovered topics: the topic hierarchy found in the content, with sizes and representative items.
//
// Lists the topics of one source (by default the discovered ones of the active run of
// `ikg topics discover`), each parent followed by its subtopics, with the number of content
// items under it (HAS_TOPIC to it or to one of its subtopics), its community (set by
// `ikg topics communities`; null before) and its representative items: REPRESENTATIVE_OF in
// rank order, or, for topics without them (other sources), the items with the heaviest HAS_TOPIC.
//
// @param source: string = discovered   topic source (discovered, genre, kg, synthetic, ...)
// @param level: int = null             only this level (0 = leaf topics, 1 = parents); null = every level
// @param representatives: int = 3      representative items per topic
// @param limit: int = 200              topics to return
// @column topic_id: string             the topic's id
// @column topic: string                its name (distinctive words of its members, for discovered topics)
// @column level: int                   0 for a leaf topic, 1 for a parent (null if the source has no levels)
// @column parent_id: string            the parent topic's id (SUBTOPIC_OF), null for a top-level topic
// @column parent: string               the parent topic's name
// @column items: int                   content items with this topic or one of its subtopics
// @column community: int               community on the topic co-occurrence graph, or null
// @column representatives: list<string> titles of its representative items, best first
// @example ikg cypher run discovered_topics
// @example ikg cypher run discovered_topics --param level=1 --param representatives=5
MATCH (t:Topic) WHERE t.source = $source AND ($level IS NULL OR t.level = $level)
OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic)
WITH t, p,
     COUNT { MATCH (c:Content)-[:HAS_TOPIC]->(x:Topic) WHERE x = t OR (x)-[:SUBTOPIC_OF]->(t) RETURN DISTINCT c } AS items,
     COLLECT { MATCH (c:Content)-[r:REPRESENTATIVE_OF]->(t) RETURN coalesce(c.title, c.id) ORDER BY r.rank } AS ranked,
     COLLECT { MATCH (c:Content)-[h:HAS_TOPIC]->(t)
               RETURN coalesce(c.title, c.id) ORDER BY h.weight DESC, c.id LIMIT $representatives } AS heaviest
RETURN t.id AS topic_id, t.name AS topic, t.level AS level, p.id AS parent_id, p.name AS parent, items,
       properties(t).community AS community,
       (CASE WHEN size(ranked) > 0 THEN ranked ELSE heaviest END)[0..$representatives] AS representatives
ORDER BY coalesce(p.id, t.id), p IS NOT NULL, items DESC, topic_id
LIMIT $limit
