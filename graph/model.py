"""The one graph data model every module uses: labels, relationship types, embedding properties.

See graph/README.md for the diagram and who writes what.
"""
from __future__ import annotations

from dataclasses import dataclass

USER = "User"
CONTENT = "Content"
TOPIC = "Topic"
MODEL_RUN = "ModelRun"

INTERACTED = "INTERACTED"
HAS_TOPIC = "HAS_TOPIC"
SUBTOPIC_OF = "SUBTOPIC_OF"
FOLLOWS = "FOLLOWS"
INTERESTED_IN = "INTERESTED_IN"
MAY_LIKE = "MAY_LIKE"
FEEDBACK = "FEEDBACK"  # User -> Topic feedback events (feedback on content is an INTERACTED event)

NODE_LABELS = (USER, CONTENT, TOPIC)
INPUT_REL_TYPES = (INTERACTED, HAS_TOPIC, SUBTOPIC_OF, FOLLOWS)
MODEL_REL_TYPES = (INTERESTED_IN, MAY_LIKE)

INTERACTION_KINDS = ("view", "click", "like", "rate", "share", "comment")
# Explicit negative feedback: INTERACTED kinds (on content) with negative weights, never training positives.
FEEDBACK_KINDS = ("dislike", "hide", "not_interested", "skip")
EVENT_KINDS = INTERACTION_KINDS + FEEDBACK_KINDS     # every kind an INTERACTED event may have
BLOCKING_KINDS = ("dislike", "hide", "not_interested")  # on content: never recommended to that user again
TOPIC_FEEDBACK_KINDS = ("dislike", "hide", "not_interested")  # on a topic: the user is not interested in it
DECLARED = "declared"  # INTERESTED_IN.source of interests the user stated (no run_id; never touched by runs)


@dataclass(frozen=True)
class VectorProperty:
    """An embedding stored as a node property, with a cosine vector index over it."""

    label: str
    prop: str
    dim: int

    @property
    def index_name(self) -> str:
        return f"{self.label.lower()}_{self.prop}"


# Default dimensions: what the default encoders produce. ``ikg schema apply`` can override them.
VECTOR_PROPERTIES = (
    VectorProperty(CONTENT, "emb_text", 384),     # MiniLM (all-MiniLM-L6-v2)
    VectorProperty(CONTENT, "emb_image", 1280),   # EfficientNet-Lite0 pooled features
    VectorProperty(CONTENT, "emb_audio", 120),    # MFCC(40) + deltas, mean-pooled
    VectorProperty(CONTENT, "emb_fused", 128),    # fusion layer output
    VectorProperty(CONTENT, "emb_gnn", 64),       # GNN output (write-back)
    VectorProperty(USER, "emb_behavior", 16),     # behaviour features
    VectorProperty(USER, "emb_gnn", 64),          # GNN output (write-back)
)
# Input properties computed at ingestion from ALL of a node's INTERACTED events (held-out ones included):
# a model evaluated on held-out interactions must not read them (gnn TrainConfig.interaction_features).
INTERACTION_DERIVED_PROPERTIES = ((USER, "emb_behavior"),)


def vector_property(label: str, prop: str) -> VectorProperty:
    for vp in VECTOR_PROPERTIES:
        if vp.label == label and vp.prop == prop:
            return vp
    known = ", ".join(f"{v.label}.{v.prop}" for v in VECTOR_PROPERTIES)
    raise KeyError(f"no embedding property {label}.{prop}; known: {known}")
