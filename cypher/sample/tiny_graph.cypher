// A tiny hand-written interest graph: 3 users, 4 content items, 4 topics.
// Idempotent (MERGE on unique ids): loading it twice changes nothing.
MERGE (t1:Topic {id: 'topic:sci-fi'}) SET t1.name = 'Sci-Fi', t1.source = 'sample'
MERGE (t2:Topic {id: 'topic:space'}) SET t2.name = 'Space', t2.source = 'sample'
MERGE (t3:Topic {id: 'topic:cooking'}) SET t3.name = 'Cooking', t3.source = 'sample'
MERGE (t4:Topic {id: 'topic:jazz'}) SET t4.name = 'Jazz', t4.source = 'sample'
MERGE (t2)-[:SUBTOPIC_OF]->(t1)
MERGE (c1:Content {id: 'sample:c1'}) SET c1.kind = 'video', c1.title = 'A walk on the Moon'
MERGE (c2:Content {id: 'sample:c2'}) SET c2.kind = 'article', c2.title = 'Rockets, explained'
MERGE (c3:Content {id: 'sample:c3'}) SET c3.kind = 'video', c3.title = 'Fresh pasta at home'
MERGE (c4:Content {id: 'sample:c4'}) SET c4.kind = 'audio', c4.title = 'Late-night jazz trio'
MERGE (c1)-[:HAS_TOPIC {weight: 1.0}]->(t2)
MERGE (c2)-[:HAS_TOPIC {weight: 1.0}]->(t1)
MERGE (c2)-[:HAS_TOPIC {weight: 0.5}]->(t2)
MERGE (c3)-[:HAS_TOPIC {weight: 1.0}]->(t3)
MERGE (c4)-[:HAS_TOPIC {weight: 1.0}]->(t4)
MERGE (u1:User {id: 'sample:ada'}) SET u1.name = 'Ada'
MERGE (u2:User {id: 'sample:ben'}) SET u2.name = 'Ben'
MERGE (u3:User {id: 'sample:chen'}) SET u3.name = 'Chen'
MERGE (u1)-[:INTERACTED {kind: 'like', weight: 1.0, ts: datetime('2026-01-05T10:00:00Z')}]->(c1)
MERGE (u1)-[:INTERACTED {kind: 'view', weight: 0.3, ts: datetime('2026-01-06T10:00:00Z')}]->(c2)
MERGE (u2)-[:INTERACTED {kind: 'rate', weight: 1.0, rating: 5.0, ts: datetime('2026-01-07T10:00:00Z')}]->(c3)
MERGE (u2)-[:INTERACTED {kind: 'view', weight: 0.3, ts: datetime('2026-01-08T10:00:00Z')}]->(c4)
MERGE (u3)-[:INTERACTED {kind: 'share', weight: 0.8, ts: datetime('2026-01-09T10:00:00Z')}]->(c2)
MERGE (u3)-[:FOLLOWS]->(u1)
MERGE (u1)-[:FOLLOWS]->(u3)
