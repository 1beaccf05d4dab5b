"""MovieLens-100K from the installed ``recbole`` package (``recbole/dataset_example/ml-100k``).

Ratings become ``rate`` interactions, users keep their raw ids, movies are ``movie:<item_id>``.
Genres become ``genre:<name>`` topics; knowledge-graph entities linked to movies through the
Freebase link file become ``kg:<mid>`` topics (``kind`` = the relation, e.g. ``actor``), kept when
at least ``kg_min_items`` movies share them. Content text = title, year, genres and KG facts.
The data is read in place and never copied into the repository.
"""
from __future__ import annotations

import csv
import importlib.util
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from graph.errors import ConfigError, InputError
from ingestion.quarantine import ErrorPolicy
from ingestion.records import (ContentRec, ContentTopicRec, Dataset, Source, TopicRec, parse_interaction,
                               parse_user)

NAME = "movielens-100k"
# Relations from a movie to an entity; sequel/prequel point at other movies and are left out.
KG_RELATIONS = {
    "film.film.directed_by": "directed_by", "film.film.written_by": "written_by",
    "film.film.produced_by": "produced_by", "film.film.actor": "actor", "film.film.genre": "genre",
    "film.film.country": "country", "film.film.language": "language", "film.film.subjects": "subject",
    "film.film.production_companies": "production_company", "film.film.cinematography": "cinematography",
    "film.film.award_nomination": "award_nomination", "film.film.award_won": "award_won",
    "film.film.rating": "content_rating",
}
# Facts named in the content text, in this order, at most KG_TEXT_PER_RELATION each.
# (Freebase has no names here, so facts are mids; few of them keep the text short for MiniLM.)
KG_TEXT_RELATIONS = (("directed_by", "directed by"), ("country", "country"), ("language", "language"),
                     ("actor", "starring"))
KG_TEXT_PER_RELATION = 2


@dataclass(frozen=True)
class MovieLensConfig:
    kg: bool = True
    kg_min_items: int = 2
    kg_max_share: float = 0.2   # entities on more movies than this share (English, USA) describe the
                                # catalogue, not a taste: they would top every user's interests
    kg_weight: float = 0.5
    genre_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kg_min_items < 1:
            raise ConfigError(f"kg_min_items must be >= 1, got {self.kg_min_items}")
        if not 0 < self.kg_max_share <= 1:
            raise ConfigError(f"kg_max_share must be in (0, 1], got {self.kg_max_share}")
        if not (0 < self.kg_weight <= 1 and 0 < self.genre_weight <= 1):
            raise ConfigError("kg_weight and genre_weight must be in (0, 1]")


def data_dir() -> Path:
    """``recbole/dataset_example/ml-100k`` of the installed recbole (without importing recbole)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("MovieLens-100K is read from the recbole package: pip install --no-deps recbole==1.2.1")
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k"
    if not (path / "ml-100k.inter").is_file():
        raise ConfigError(f"ml-100k files not found in {path}")
    return path


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a recbole atomic file; the typed header ``name:type`` is reduced to ``name``."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.split(":")[0] for h in next(reader)]
        for line, values in enumerate(reader, start=2):
            if len(values) != len(header):
                raise InputError(f"expected {len(header)} tab-separated values, got {len(values)}",
                                 file=str(path), line=line)
            yield line, dict(zip(header, values))


def load(policy: ErrorPolicy, cfg: MovieLensConfig = MovieLensConfig(), root: Path | None = None) -> Dataset:
    """MovieLens-100K as validated records."""
    root = root or data_dir()
    ds = Dataset(NAME)
    files = {ext: root / f"ml-100k.{ext}" for ext in ("user", "item", "inter", "link", "kg")}

    for line, r in _rows(files["user"]):
        raw = {"id": r["user_id"], "age": r["age"], "gender": r["gender"], "occupation": r["occupation"],
               "zip": r["zip_code"]}
        _add(ds.users, "users", lambda: parse_user(raw, Source(str(files["user"]), line)), policy, raw)
    ds.rows_read["users"] = len(ds.users)

    movies: dict[str, tuple[Source, str, str, list[str]]] = {}
    for line, r in _rows(files["item"]):
        src = Source(str(files["item"]), line)
        if not r["item_id"].strip():
            policy.reject("content", src.error("item_id is required", "item_id", r["item_id"]), r)
            continue
        genres = [g for g in r["class"].split() if g and g != "unknown"]
        movies[r["item_id"]] = (src, r["movie_title"].strip(), r["release_year"].strip(), genres)

    kg_facts = _kg_facts(files["link"], files["kg"], set(movies)) if cfg.kg else {}
    kg_support = Counter(ent for facts in kg_facts.values() for ent in {e for _, e in facts})
    kg_kind: dict[str, Counter] = defaultdict(Counter)
    for facts in kg_facts.values():
        for rel, ent in facts:
            kg_kind[ent][rel] += 1
    max_items = cfg.kg_max_share * len(movies)
    kept_kg = {e for e, n in kg_support.items() if cfg.kg_min_items <= n <= max_items}

    genres = sorted({g for _, _, _, gs in movies.values() for g in gs})
    topic_src = Source(str(files["item"]), 1)
    ds.topics = [TopicRec(f"genre:{g}", {"name": g, "source": "genre", "kind": "genre"}, None, topic_src)
                 for g in genres]
    kg_src = Source(str(files["kg"]), 1)
    # Freebase ships no entity names offline: the name says what kind of entity the mid is.
    ds.topics += [TopicRec(f"kg:{e}", {"name": f"{kg_kind[e].most_common(1)[0][0]} {e}", "source": "kg",
                                       "kind": kg_kind[e].most_common(1)[0][0]}, None, kg_src)
                  for e in sorted(kept_kg)]

    for item, (src, title, year, gs) in movies.items():
        cid = f"movie:{item}"
        facts = kg_facts.get(item, [])
        text = _movie_text(title, year, gs, facts)
        ds.content.append(ContentRec(cid, {"kind": "movie", "title": title or None, "text": text or None,
                                           "image": None, "audio": None}, None, None, None, src=src))
        ds.content_topics += [ContentTopicRec(cid, f"genre:{g}", cfg.genre_weight, src) for g in gs]
        ds.content_topics += [ContentTopicRec(cid, f"kg:{e}", cfg.kg_weight, src)
                              for e in sorted({e for _, e in facts if e in kept_kg})]
    ds.rows_read["content"] = len(movies)
    ds.rows_read["topics"] = len(ds.topics)
    ds.rows_read["content_topics"] = len(ds.content_topics)

    n = 0
    for line, r in _rows(files["inter"]):
        n += 1
        raw = {"user": r["user_id"], "content": f"movie:{r['item_id']}", "kind": "rate",
               "rating": r["rating"], "ts": r["timestamp"]}
        _add(ds.interactions, "interactions", lambda: parse_interaction(raw, Source(str(files["inter"]), line)),
             policy, raw)
    ds.rows_read["interactions"] = n
    return ds


def _add(out: list, table: str, parse, policy: ErrorPolicy, raw: dict) -> None:
    try:
        out.append(parse())
    except InputError as e:
        policy.reject(table, e, raw)


def _kg_facts(link: Path, kg: Path, items: set[str]) -> dict[str, list[tuple[str, str]]]:
    """item id → [(relation, entity mid)] for the movie-to-entity relations in KG_RELATIONS."""
    entity_item = {r["entity_id"]: r["item_id"] for _, r in _rows(link) if r["item_id"] in items}
    facts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _, r in _rows(kg):
        item = entity_item.get(r["head_id"])
        rel = KG_RELATIONS.get(r["relation_id"])
        if item is not None and rel is not None and r["tail_id"] not in entity_item:
            facts[item].append((rel, r["tail_id"]))
    return facts


def _movie_text(title: str, year: str, genres: list[str], facts: list[tuple[str, str]]) -> str:
    """``Released 1995. Genres: a, b. directed by m.x; country m.y; starring m.z, …`` (the encoder
    reads it after the title)."""
    parts = [f"Released {year}"] if year else []
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    by_rel: dict[str, list[str]] = defaultdict(list)
    for rel, ent in facts:
        if ent not in by_rel[rel]:
            by_rel[rel].append(ent)
    kg = [f"{label} {', '.join(by_rel[rel][:KG_TEXT_PER_RELATION])}"
          for rel, label in KG_TEXT_RELATIONS if by_rel.get(rel)]
    if kg:
        parts.append("; ".join(kg))
    return ". ".join(parts) + "." if parts else ""
