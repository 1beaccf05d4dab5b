// Influencers: followed users whose interests their followers share (active model run).
//
// For each user with at least `min_followers` followers, compares their top-k INTERESTED_IN
// topics with each follower's top k: followers_sharing counts followers with at least one
// topic in common, mean_jaccard averages the Jaccard of the two topic sets over all followers,
// shared_topics lists the topics in common, most shared first.
//
// @param k: int = 5                     top interests per user (INTERESTED_IN rank <= k)
// @param min_followers: int = 1         ignore users with fewer followers
// @param limit: int = 20                users to return
// @column user_id: string               the followed user's id
// @column name: string                  their name (may be null)
// @column followers: int                how many users follow them
// @column followers_sharing: int        followers sharing at least one top-k interest
// @column mean_jaccard: float           average Jaccard of interest sets, user vs follower
// @column shared_topics: list<string>   topics shared with followers, most shared first
// @example ikg cypher run influencers --param k=5 --param min_followers=3
MATCH (run:ModelRun {active: true})
MATCH (f:User)<-[:FOLLOWS]-(follower:User)
WITH run, f, collect(DISTINCT follower) AS followers
WHERE size(followers) >= $min_followers
CALL (run, f) {
  OPTIONAL MATCH (f)-[i:INTERESTED_IN]->(t:Topic)
  WHERE i.run_id = run.id AND i.rank <= $k
  RETURN collect(t) AS f_topics
}
UNWIND followers AS follower
CALL (run, follower) {
  OPTIONAL MATCH (follower)-[i:INTERESTED_IN]->(t:Topic)
  WHERE i.run_id = run.id AND i.rank <= $k
  RETURN collect(t) AS g_topics
}
WITH f, size(followers) AS n_followers, f_topics, g_topics, [t IN g_topics WHERE t IN f_topics] AS shared
WITH f, n_followers, shared,
     CASE WHEN size(f_topics) + size(g_topics) - size(shared) = 0 THEN 0.0
          ELSE toFloat(size(shared)) / (size(f_topics) + size(g_topics) - size(shared)) END AS jaccard
WITH f, n_followers, count(CASE WHEN size(shared) > 0 THEN 1 END) AS sharing, avg(jaccard) AS mean_jaccard,
     reduce(acc = [], s IN collect(shared) | acc + s) AS all_shared
CALL (all_shared) {
  UNWIND all_shared AS t
  WITH t, count(*) AS times
  ORDER BY times DESC, t.name
  RETURN collect(t.name) AS shared_topics
}
RETURN f.id AS user_id, f.name AS name, n_followers AS followers, sharing AS followers_sharing,
       mean_jaccard, shared_topics
ORDER BY followers_sharing DESC, mean_jaccard DESC, user_id
LIMIT $limit
