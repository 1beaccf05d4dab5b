// Cohort comparison: the top topics of each cohort of users (age bucket, occupation or gender).
//
// A cohort's weight on a topic is the sum of r.weight * h.weight over its members'
// interactions with content of the topic; share is that weight over the cohort's total, and
// lift is share divided by the topic's share over all users (lift > 1: over-represented).
// Age buckets: under 18, 18-24, 25-34, 35-44, 45-54, 55+, unknown. (Weights are summed per cohort
// and content first, then spread over the content's topics: same sums, far fewer rows.)
//
// @param cohort: string in (age_bucket, occupation, gender) = age_bucket   how to group users
// @param k: int = 5                      topics per cohort
// @param source: string = null           only topics with this source; null means every topic
// @column cohort: string                 the cohort (bucket, occupation or gender)
// @column users: int                     users in the cohort
// @column rank: int                      rank of the topic within the cohort
// @column topic_id: string               the topic's id
// @column topic: string                  the topic's name
// @column share: float                   the topic's share of the cohort's interaction weight
// @column lift: float                    share / the topic's share over all users
// @example ikg cypher run cohort_top_topics --param cohort=occupation --param k=3 --param source=genre
MATCH (u:User)
WITH u, CASE $cohort
          WHEN 'occupation' THEN coalesce(u.occupation, 'unknown')
          WHEN 'gender' THEN coalesce(u.gender, 'unknown')
          ELSE CASE WHEN u.age IS NULL THEN 'unknown' WHEN u.age < 18 THEN 'under 18'
                    WHEN u.age < 25 THEN '18-24' WHEN u.age < 35 THEN '25-34' WHEN u.age < 45 THEN '35-44'
                    WHEN u.age < 55 THEN '45-54' ELSE '55+' END
        END AS cohort
WITH cohort, collect(u) AS members
UNWIND members AS u
MATCH (u)-[r:INTERACTED]->(c:Content)
WITH cohort, size(members) AS users, c, sum(r.weight) AS content_weight
MATCH (c)-[h:HAS_TOPIC]->(t:Topic)
WHERE $source IS NULL OR t.source = $source
WITH cohort, users, t, sum(content_weight * h.weight) AS weight
WITH t, collect({cohort: cohort, users: users, weight: weight}) AS per_cohort, sum(weight) AS topic_total
WITH collect({t: t, per: per_cohort, total: topic_total}) AS topics, sum(topic_total) AS grand_total
UNWIND topics AS x
UNWIND x.per AS pc
WITH pc.cohort AS cohort, pc.users AS users, x.t AS t, pc.weight AS weight, x.total / grand_total AS overall
ORDER BY weight DESC, t.id
WITH cohort, users, collect({t: t, weight: weight, overall: overall}) AS ranked, sum(weight) AS cohort_total
UNWIND range(0, CASE WHEN size(ranked) < $k THEN size(ranked) ELSE $k END - 1) AS i
RETURN cohort, users, i + 1 AS rank, ranked[i].t.id AS topic_id, ranked[i].t.name AS topic,
       ranked[i].weight / cohort_total AS share, ranked[i].weight / cohort_total / ranked[i].overall AS lift
ORDER BY cohort, rank
