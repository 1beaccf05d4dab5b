"""CJK and mixed-script text through the ingest pipeline with the default text encoder (MiniLM).

What is asserted is what MiniLM actually does: ids, titles and topic names round-trip unchanged;
every embedding is finite, unit-length and stored in the vector index; a near-identical Chinese
text is closer than unrelated ones; and most Chinese tokens are [UNK] (the reason docs/ingest-format.md
recommends a multilingual model for such text, and the encoder warns).
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from graph import read
from ingestion.embed.registry import get_encoder
from ingestion.embed.text import UNK_WARN_RATE
from ingestion.pipeline import IngestConfig, ingest_paths

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

CONTENT = [  # id, title, text
    ("电影:1", "今天天气很好", "我们去公园散步吧。"),
    ("电影:2", "今天天气很好", "我们去公园散步。"),                      # near-identical to 电影:1
    ("电影:3", "股票市场", "股票市场今天大幅下跌，投资者感到担忧。"),
    ("映画:4", "機械学習", "機械学習のモデルには大量のデータが必要です。"),   # Japanese
    ("mix:5", "我最喜欢的电影", "Star Wars，尤其是 The Empire Strikes Back。"),  # mixed script
    ("mix:6", "GNN 图神经网络", "recommendation 推荐系统 😀"),
]
TOPICS = [{"id": "主题:电影", "name": "电影", "source": "test"}, {"id": "トピック:技術", "name": "技術", "source": "test"}]


def _dataset(tmp_path):
    ds = tmp_path / "cjk"
    ds.mkdir()
    with open(ds / "content.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "kind", "title", "text"])
        w.writerows([(i, "post", title, text) for i, title, text in CONTENT])
    (ds / "topics.jsonl").write_text("\n".join(json.dumps(t, ensure_ascii=False) for t in TOPICS) + "\n",
                                     encoding="utf-8")
    with open(ds / "content_topics.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("content", "topic"), ("电影:1", "主题:电影"), ("映画:4", "トピック:技術")])
    with open(ds / "users.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "name"), ("用户一", "小明"), ("ユーザー", "太郎")])
    with open(ds / "interactions.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("user", "content", "kind", "ts"), ("用户一", "电影:1", "like", "2024-03-01"),
                                 ("ユーザー", "映画:4", "view", "2024-03-02")])
    return ds


def test_cjk_items_ingest_and_embed(graph, tmp_path, caplog):
    summary = ingest_paths(graph, [_dataset(tmp_path)], IngestConfig(progress=False, device="cpu"))
    assert summary is not None
    rows = graph.read("MATCH (c:Content) RETURN c.id AS id, c.title AS title, c.text AS text, c.emb_text AS v, "
                      "c.emb_text_model AS model ORDER BY id")
    assert {(r["id"], r["title"], r["text"]) for r in rows} == set(CONTENT)
    vectors = {r["id"]: np.asarray(r["v"], dtype=np.float64) for r in rows}
    for v in vectors.values():
        assert v.shape == (384,) and np.isfinite(v).all() and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-3)
    assert {r["model"] for r in rows} == {"all-MiniLM-L6-v2"}
    assert sorted(r["name"] for r in graph.read("MATCH (t:Topic) RETURN t.name AS name")) == ["技術", "电影"]
    assert graph.read("MATCH (:User {id: '用户一'})-[r:INTERACTED]->(:Content {id: '电影:1'}) "
                      "RETURN count(r) AS n")[0]["n"] == 1

    cos = {k: float(vectors["电影:1"] @ v) for k, v in vectors.items() if k != "电影:1"}
    assert cos["电影:2"] > 0.95
    assert cos["电影:2"] > max(v for k, v in cos.items() if k != "电影:2") + 0.1
    nearest = read.similar_content(graph, "电影:1", 1, "text")["items"]
    assert [i["id"] for i in nearest] == ["电影:2"]
    assert "maps" in caplog.text and "[UNK]" in caplog.text   # the encoder warned about the vocabulary


def test_minilm_tokenises_most_chinese_as_unknown():
    encoder = get_encoder("text", None, "cpu")
    chinese = [f"{title}。{text}" for i, title, text in CONTENT if i.startswith("电影")]
    english = ["Rockets explained: how a rocket reaches orbit.", "A walk on the Moon."]
    assert encoder.unknown_rate(chinese) > 0.5 > UNK_WARN_RATE
    assert encoder.unknown_rate(english) == 0.0
