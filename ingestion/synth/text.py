"""Topic vocabularies and noisy text rendering for the synthetic world (pure; English words).

Each leaf topic has a *core* vocabulary (its own theme) and shares a *parent* vocabulary with
its siblings, so text reliably reveals the parent but only partly the leaf. Distractor words
come from a generic filler list and from other topics' core vocabularies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Leaf themes: (name, core words). English words so MiniLM embeds them meaningfully.
LEAF_THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("astronomy", ("telescope", "galaxy", "planet", "nebula", "orbit", "comet", "star", "eclipse", "asteroid", "cosmos")),
    ("cooking", ("recipe", "oven", "garlic", "simmer", "bake", "kitchen", "sauce", "pasta", "spice", "chef")),
    ("football", ("goal", "striker", "referee", "stadium", "penalty", "league", "midfielder", "kickoff", "offside", "keeper")),
    ("gardening", ("soil", "seedling", "compost", "tulip", "prune", "greenhouse", "shovel", "mulch", "hedge", "bloom")),
    ("jazz", ("saxophone", "swing", "improvisation", "trumpet", "bebop", "trio", "bassline", "club", "solo", "groove")),
    ("photography", ("camera", "lens", "aperture", "shutter", "portrait", "exposure", "tripod", "focus", "flash", "zoom")),
    ("hiking", ("trail", "summit", "backpack", "boots", "ridge", "valley", "campfire", "map", "compass", "canyon")),
    ("programming", ("code", "compiler", "function", "debugger", "python", "variable", "algorithm", "software", "bug", "repository")),
    ("finance", ("stock", "dividend", "portfolio", "investor", "bond", "interest", "market", "budget", "savings", "inflation")),
    ("fashion", ("dress", "runway", "designer", "fabric", "jacket", "silk", "boutique", "style", "model", "collection")),
    ("chess", ("bishop", "knight", "checkmate", "pawn", "gambit", "endgame", "rook", "opening", "grandmaster", "queen")),
    ("painting", ("canvas", "brush", "watercolor", "easel", "oil", "palette", "gallery", "portrait", "sketch", "fresco")),
    ("cycling", ("bicycle", "pedal", "helmet", "peloton", "gear", "saddle", "sprint", "chain", "mountain", "tour")),
    ("birds", ("sparrow", "eagle", "feather", "nest", "owl", "migration", "beak", "hawk", "wing", "songbird")),
    ("cars", ("engine", "sedan", "tire", "horsepower", "garage", "brake", "convertible", "mechanic", "turbo", "highway")),
    ("history", ("empire", "medieval", "castle", "dynasty", "archive", "revolution", "ancient", "monarch", "treaty", "battle")),
    ("fitness", ("workout", "gym", "muscle", "cardio", "squat", "protein", "treadmill", "stretch", "dumbbell", "trainer")),
    ("cats", ("kitten", "whiskers", "purr", "litter", "feline", "paw", "meow", "tabby", "scratch", "catnip")),
    ("coffee", ("espresso", "barista", "latte", "roast", "bean", "grinder", "cappuccino", "mug", "brew", "cafe")),
    ("ocean", ("wave", "reef", "dolphin", "tide", "coral", "whale", "sailor", "shore", "diving", "seaweed")),
    ("movies", ("director", "cinema", "actor", "screenplay", "premiere", "trailer", "sequel", "oscar", "popcorn", "studio")),
    ("chemistry", ("molecule", "reaction", "acid", "catalyst", "laboratory", "atom", "solvent", "beaker", "bond", "compound")),
    ("poetry", ("verse", "rhyme", "stanza", "poet", "sonnet", "metaphor", "lyric", "ballad", "haiku", "meter")),
    ("skiing", ("slope", "snow", "powder", "lift", "avalanche", "goggles", "chalet", "downhill", "resort", "glacier")),
    ("robotics", ("robot", "sensor", "actuator", "servo", "arduino", "gripper", "autonomous", "motor", "drone", "circuit")),
    ("baking", ("bread", "dough", "flour", "yeast", "croissant", "cake", "pastry", "frosting", "muffin", "loaf")),
    ("guitar", ("chord", "strum", "fretboard", "amplifier", "riff", "acoustic", "string", "pick", "tuning", "pedalboard")),
    ("travel", ("passport", "airport", "luggage", "hostel", "itinerary", "souvenir", "journey", "flight", "tourist", "visa")),
    ("wine", ("vineyard", "grape", "cellar", "vintage", "sommelier", "cork", "merlot", "tasting", "barrel", "harvest")),
    ("medicine", ("doctor", "patient", "vaccine", "surgery", "clinic", "diagnosis", "nurse", "therapy", "symptom", "hospital")),
    ("dogs", ("puppy", "leash", "bark", "retriever", "kennel", "fetch", "tail", "collar", "terrier", "obedience")),
    ("architecture", ("building", "facade", "skyscraper", "column", "blueprint", "arch", "concrete", "dome", "tower", "bridge")),
    ("tennis", ("racket", "serve", "volley", "court", "backhand", "tournament", "deuce", "baseline", "forehand", "ace")),
    ("insects", ("beetle", "butterfly", "ant", "caterpillar", "bee", "larva", "antenna", "moth", "hive", "dragonfly")),
    ("gaming", ("console", "controller", "level", "quest", "multiplayer", "arcade", "joystick", "boss", "pixel", "speedrun")),
    ("weather", ("storm", "thunder", "forecast", "rain", "hurricane", "cloud", "lightning", "humidity", "drizzle", "tornado")),
    ("knitting", ("yarn", "needle", "wool", "sweater", "scarf", "stitch", "crochet", "pattern", "knot", "mitten")),
    ("trains", ("locomotive", "railway", "station", "carriage", "track", "conductor", "steam", "platform", "timetable", "tunnel")),
    ("volcanoes", ("lava", "magma", "eruption", "crater", "ash", "basalt", "geyser", "caldera", "pumice", "tectonic")),
    ("theatre", ("stage", "curtain", "rehearsal", "playwright", "audience", "costume", "drama", "comedy", "applause", "script")),
)

# Parent themes: words shared by all leaves under one parent (broad, overlapping on purpose).
PARENT_THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("science", ("research", "experiment", "theory", "discovery", "data", "scientist", "study", "measure")),
    ("leisure", ("hobby", "weekend", "relax", "fun", "enjoy", "pastime", "friends", "evening")),
    ("sport", ("team", "match", "score", "coach", "training", "win", "season", "champion")),
    ("nature", ("forest", "wild", "animal", "river", "earth", "season", "outdoor", "green")),
    ("arts", ("creative", "artist", "beauty", "style", "craft", "inspiration", "color", "exhibit")),
    ("technology", ("digital", "device", "machine", "innovation", "engineer", "system", "online", "data")),
    ("lifestyle", ("home", "daily", "family", "comfort", "routine", "health", "shop", "life")),
    ("culture", ("tradition", "story", "heritage", "festival", "society", "classic", "famous", "public")),
)

FILLER_WORDS: tuple[str, ...] = (
    "today", "really", "people", "thing", "great", "new", "time", "good", "best", "look", "about",
    "amazing", "just", "video", "post", "week", "little", "another", "first", "guide", "tips",
    "favorite", "simple", "review", "share", "idea", "part", "world", "quick", "story", "update",
)


@dataclass(frozen=True)
class TextConfig:
    """Text noise: which topics a text mentions and how many of its words are signal."""

    p_mention: float = 0.7       # each of an item's topics is mentioned with this probability
    n_words: int = 14            # words in the body text
    p_topic_word: float = 0.5    # a word comes from a mentioned topic's vocabulary …
    p_parent_word: float = 0.6   # … and then from the shared parent vocabulary (ambiguous)
    p_foreign_word: float = 0.12  # a word from another (random) topic's core vocabulary
    title_words: int = 4

    def __post_init__(self) -> None:
        for name in ("p_mention", "p_topic_word", "p_parent_word", "p_foreign_word"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"text.{name} must be in [0, 1], got {value!r}")
        if self.p_topic_word + self.p_foreign_word > 1.0:
            raise ValueError("text.p_topic_word + text.p_foreign_word must be <= 1")
        if self.n_words < 1 or self.title_words < 1:
            raise ValueError(f"text.n_words and text.title_words must be >= 1, got {self.n_words}, {self.title_words}")


@dataclass(frozen=True)
class Vocabulary:
    """Names and word lists of every leaf topic and parent."""

    leaf_names: tuple[str, ...]
    leaf_words: tuple[tuple[str, ...], ...]
    parent_names: tuple[str, ...]
    parent_words: tuple[tuple[str, ...], ...]


def max_topics() -> int:
    """Largest leaf-topic count with distinct vocabularies (pairs of themes above the theme count)."""
    return len(LEAF_THEMES) ** 2


def max_parents() -> int:
    """Largest parent count with distinct shared vocabularies (pairs of themes above the theme count)."""
    return len(PARENT_THEMES) ** 2


def _theme(themes: tuple[tuple[str, tuple[str, ...]], ...], i: int) -> tuple[str, tuple[str, ...]]:
    """Theme i; above the theme count, the first half of one theme's words + the second half of another's."""
    n = len(themes)
    if i < n:
        return themes[i]
    a, b = i % n, (i % n + i // n) % n  # i < n² so 1 <= i // n < n and b != a
    (name_a, words_a), (name_b, words_b) = themes[a], themes[b]
    half = len(words_a) // 2
    return f"{name_a}-{name_b}", words_a[:half] + words_b[half:]


def build_vocabulary(n_topics: int, n_parents: int) -> Vocabulary:
    """Leaf topic t uses leaf theme t, parent p parent theme p (theme pairs above the theme counts)."""
    if not 1 <= n_topics <= max_topics():
        raise ValueError(f"n_topics must be in [1, {max_topics()}], got {n_topics}")
    if not 1 <= n_parents <= max_parents():
        raise ValueError(f"n_parents must be in [1, {max_parents()}], got {n_parents}")
    leaves = [_theme(LEAF_THEMES, t) for t in range(n_topics)]
    parents = [_theme(PARENT_THEMES, p) for p in range(n_parents)]
    return Vocabulary(tuple(n for n, _ in leaves), tuple(w for _, w in leaves),
                      tuple(n for n, _ in parents), tuple(w for _, w in parents))


def render_text(rng: np.random.Generator, mentioned: list[int], parents: list[int], vocab: Vocabulary,
                cfg: TextConfig, n_words: int) -> str:
    """Words drawn from the mentioned topics (core or parent words), other topics and filler."""
    out = []
    n_topics = len(vocab.leaf_words)
    draws = rng.random((n_words, 4))
    for u_kind, u_parent, u_pick, u_word in draws:
        if u_kind < cfg.p_topic_word:
            if mentioned:
                slot = int(u_pick * len(mentioned))
                pool = (vocab.parent_words[parents[slot]] if u_parent < cfg.p_parent_word
                        else vocab.leaf_words[mentioned[slot]])
            else:
                pool = FILLER_WORDS
        elif u_kind < cfg.p_topic_word + cfg.p_foreign_word:
            pool = vocab.leaf_words[int(u_pick * n_topics)]
        else:
            pool = FILLER_WORDS
        out.append(pool[int(u_word * len(pool))])
    return " ".join(out)
