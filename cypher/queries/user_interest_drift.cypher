// Interest drift of a user: topic shares in two time windows and how far they moved.
//
// For each window [start, end), a topic's share is the sum of r.weight * h.weight over the
// user's interactions in the window with content of the topic, divided by the window's total.
// drift is the total-variation distance between the two distributions (0 = same mix, 1 =
// disjoint), repeated on every row. Without explicit bounds, window B is the last
// `window_days` up to the user's latest interaction and window A the `window_days` before it.
//
// @param user_id: string                 the user's id
// @param window_days: int = 30           length of each default window
// @param a_start: datetime = null        window A start (inclusive); null: default window
// @param a_end: datetime = null          window A end (exclusive); null: default window
// @param b_start: datetime = null        window B start (inclusive); null: default window
// @param b_end: datetime = null          window B end (exclusive); null: default window
// @column topic_id: string               the topic's id
// @column topic: string                  the topic's name
// @column share_a: float                 share of the topic in window A
// @column share_b: float                 share of the topic in window B
// @column delta: float                   share_b - share_a
// @column drift: float                   total-variation distance between the windows (same on every row)
// @column window_a: string               window A as start/end (ISO-8601)
// @column window_b: string               window B as start/end (ISO-8601)
// @example ikg cypher run user_interest_drift --param user_id=1 --param a_start=1997-09-01 --param a_end=1997-12-01 --param b_start=1997-12-01 --param b_end=1998-05-01
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (u)-[last:INTERACTED]->(:Content)
WITH u, max(last.ts) + duration({seconds: 1}) AS t_end, duration({days: $window_days}) AS w
WITH u, coalesce($a_start, t_end - w - w) AS a_start, coalesce($a_end, t_end - w) AS a_end,
        coalesce($b_start, t_end - w) AS b_start, coalesce($b_end, t_end) AS b_end
MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
WITH a_start, a_end, b_start, b_end, t,
     sum(CASE WHEN a_start <= r.ts < a_end THEN r.weight * h.weight ELSE 0.0 END) AS wa,
     sum(CASE WHEN b_start <= r.ts < b_end THEN r.weight * h.weight ELSE 0.0 END) AS wb
WITH a_start, a_end, b_start, b_end, collect({t: t, wa: wa, wb: wb}) AS rows, sum(wa) AS ta, sum(wb) AS tb
WITH a_start, a_end, b_start, b_end,
     [x IN rows WHERE x.wa > 0 OR x.wb > 0 |
        {t: x.t, a: CASE WHEN ta > 0 THEN x.wa / ta ELSE 0.0 END,
                 b: CASE WHEN tb > 0 THEN x.wb / tb ELSE 0.0 END}] AS shares
WITH a_start, a_end, b_start, b_end, shares,
     reduce(s = 0.0, x IN shares | s + abs(x.a - x.b)) / 2.0 AS drift
UNWIND shares AS x
RETURN x.t.id AS topic_id, x.t.name AS topic, x.a AS share_a, x.b AS share_b, x.b - x.a AS delta, drift,
       toString(a_start) + '/' + toString(a_end) AS window_a,
       toString(b_start) + '/' + toString(b_end) AS window_b
ORDER BY abs(delta) DESC, topic_id
