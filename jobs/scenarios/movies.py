"""Movies / e-commerce-style recommendation on MovieLens-100K.

Ingest MovieLens-100K (genre and knowledge-graph topics, text embeddings), train GraphSAGE,
write back; then a user's top interests, recommendations with their explanation, and
"customers who liked X also liked" through the GNN embeddings' vector index, checked against
the users who actually rated both.
"""
from __future__ import annotations

from typing import Any

from graph.db import Graph
from jobs.scenarios.base import (Scenario, ScenarioConfig, ScenarioInfo, ScenarioPipeline, ScenarioResult,
                                 library_rows, recommendations)

EXAMPLE_USER = "1"
TOP = 5
CI_EPOCHS = 5
FAVOURITE = """
MATCH (u:User {id: $user_id})-[r:INTERACTED]->(c:Content) WHERE r.rating IS NOT NULL
WITH c, r.rating AS rating, COUNT { (c)<-[:INTERACTED]-(:User) } AS raters
ORDER BY rating DESC, raters DESC, c.id LIMIT 1
RETURN c.id AS id, c.title AS title, rating, raters
"""
CO_LIKED = """
MATCH (x:Content {id: $content_id})<-[r1:INTERACTED]-(u:User)
WHERE r1.rating >= $min_rating
WITH x, collect(DISTINCT u) AS likers
UNWIND $others AS other_id
MATCH (y:Content {id: other_id})
RETURN y.id AS content_id, size(likers) AS likers_of_x,
       size([u IN likers WHERE EXISTS { (u)-[r2:INTERACTED]->(y) WHERE r2.rating >= $min_rating }]) AS also_liked
"""
LIKED_RATING = 4.0


class MoviesScenario(Scenario):
    info = ScenarioInfo(
        name="movies", title="Movies / e-commerce recommendation on MovieLens-100K",
        demonstrates=(
            "MovieLens-100K (943 users, 1,682 movies, 100k ratings, genre + knowledge-graph topics) → GraphSAGE.",
            "A user's interests and recommendations come out of the graph with the paths that explain them.",
            "'Customers who liked X also liked' is a vector-index query on the GNN embeddings (content_emb_gnn),",
            "checked against how many of X's fans really rated each neighbour 4+.",
        ),
        bolt_port=7688, http_port=7481)

    def train_overrides(self, cfg: ScenarioConfig) -> dict[str, Any]:
        return {"model": "sage", **({"epochs": CI_EPOCHS} if cfg.size == "ci" else {})}

    def build(self, p: ScenarioPipeline) -> None:
        p.stage("ingest MovieLens-100K", p.movielens_done, lambda: p.ingest("movielens-100k"))

    def show(self, g: Graph, p: ScenarioPipeline, result: ScenarioResult) -> None:
        user = EXAMPLE_USER
        interests = library_rows(g, "user_top_interests", user_id=user, k=TOP)
        recs = recommendations(g, user, TOP)
        why = (library_rows(g, "explain_may_like", user_id=user, content_id=recs[0]["content_id"], limit=3)
               if recs else [])
        fav = g.read(FAVOURITE, user_id=user)[0]
        similar = library_rows(g, "similar_content", content_id=fav["id"], embedding="gnn", k=TOP)
        support = {r["content_id"]: r for r in g.read(CO_LIKED, content_id=fav["id"], min_rating=LIKED_RATING,
                                                      others=[s["content_id"] for s in similar])}
        result.data.update(user=user, interests=interests, recommendations=recs,
                           explanation=[{k: v for k, v in r.items() if k != "path"} for r in why],
                           favourite=fav, also_liked=similar, co_liked=support)
        f = result.facts
        f.append(f"User {user}: top interests (model rank / decayed-history rank)")
        for r in interests:
            f.append(f"  {r['topic'] or r['topic_id']:<40} model #{r['model_rank'] or '-'}"
                     f"  history #{r['decayed_rank'] or '-'}")
        f.append(f"User {user}: top {TOP} recommendations (MAY_LIKE)")
        for r in recs:
            f.append(f"  #{r['rank']} {r['title']}  score {r['score']:.3f}  [{', '.join(r['topics'][:3])}]")
        if recs:
            f.append(f"Why #{recs[0]['rank']} ({recs[0]['title']}): strongest evidence (explain_may_like)")
            for r in why:
                f.append(f"  {r['reason']:<15} via {r['via']}  strength {r['strength']:.3f}")
        f.append(f"Customers who liked {fav['title']} (user {user} rated it {fav['rating']:.0f}★, "
                 f"{fav['raters']} raters) also liked — GNN vector index vs. real co-ratings (4★+):")
        for s in similar:
            sup = support.get(s["content_id"], {})
            f.append(f"  {s['title']:<45} similarity {s['similarity']:.3f}  "
                     f"{sup.get('also_liked', 0)}/{sup.get('likers_of_x', 0)} of its fans rated it 4★+")
        fav_id = fav["id"]
        top_id = recs[0]["content_id"] if recs else "movie:50"
        result.look_at += [
            f"ikg cypher run user_top_interests -p user_id={user} -p k=5",
            f"ikg cypher run explain_may_like -p user_id={user} -p content_id={top_id}",
            f"ikg cypher run similar_content -p content_id={fav_id} -p embedding=gnn",
            f"ikg cypher run similar_users -p user_id={user} -p k=5",
            f"Browser: MATCH p=(u:User {{id:'{user}'}})-[:MAY_LIKE]->(:Content)-[:HAS_TOPIC]->(:Topic) "
            f"RETURN p LIMIT 25",
            f"API: GET /v1/users/{user}/recommendations?k=5 · /v1/users/{user}/explain?content={top_id} · "
            f"/v1/content/{fav_id}/similar?modality=gnn",
        ]
