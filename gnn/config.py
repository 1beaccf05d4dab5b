"""Typed training configuration: frozen dataclass with defaults, validation and YAML loading.

Precedence: dataclass defaults < YAML file (``--config``) < CLI flags.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import yaml

from graph.errors import ConfigError

MODELS = ("sage", "gcn")
BACKENDS = ("dgl", "pyg")
LOSSES = ("bpr", "bce")
HEADS = ("dot", "mlp")
SPLITS = ("temporal", "random")
DEVICES = ("auto", "cpu", "cuda")
ACTIVATIONS = ("relu", "none")
INTERACTION_FEATURES = ("drop", "keep")
FUSION_METHODS = ("early", "concat", "decision", "attention", "shared")
INTEREST_READOUTS = ("embedding", "items")
L2_TARGETS = ("output", "input")
DAY = 86400.0


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of one training run (also stored in run.json and the checkpoint)."""

    model: str = "gcn"
    backend: str = "dgl"
    device: str = "auto"
    emb_dim: int = 64
    num_layers: int = 2
    activation: str = "none"         # between layers: relu or none (none + gcn without conv_weight = LightGCN)
    conv_weight: bool = False        # gcn only: learned weight and bias per relation and layer
    exclude_relations: tuple[str, ...] = ()  # relation types left out of message passing (e.g. HAS_TOPIC)
    head: str = "dot"
    loss: str = "bpr"
    num_negatives: int = 1
    lr: float = 0.01
    weight_decay: float = 0.0
    l2: float = 1e-4                 # l2 * mean over the batch of ||h_u||² + ||h_pos||² + mean ||h_neg||² (BPR reg)
    l2_target: str = "output"        # the h in l2: the encoder's output, or its input layer (LightGCN's choice)
    dropout: float = 0.0
    id_dropout: float = 0.1
    epochs: int = 100
    patience: int = 10
    batch_size: int = 4096
    minibatch: bool = False
    fanouts: tuple[int, ...] = (10, 10)
    split: str = "temporal"
    val_frac: float = 0.1
    test_frac: float = 0.1
    min_user_interactions: int = 3
    half_life_days: float = 30.0
    negative_kinds: tuple[str, ...] = ()
    use_features: bool = True
    exclude_features: tuple[str, ...] = ("emb_gnn",)
    interaction_features: str = "drop"  # graph.model.INTERACTION_DERIVED_PROPERTIES: drop, or keep (leaks held-out)
    use_id_embeddings: bool = True
    stats_labels: tuple[str, ...] = ("Content",)
    fusion: str = "early"            # node-input fusion of the modalities (gnn/fusion.py)
    modalities: tuple[str, ...] = ()  # feature groups used as modalities (e.g. emb_text); () = every one exported
    fusion_weights: tuple[float, ...] = ()  # fixed weight per entry of modalities; () = 1 each
    fusion_learn_weights: bool = False  # learn the modality weights (M · softmax) instead
    fusion_align_weight: float = 0.1  # shared: weight of the cross-modal InfoNCE alignment loss
    fusion_temperature: float = 0.1  # shared: InfoNCE temperature
    fusion_align_sample: int = 1024  # shared: nodes per modality pair in one alignment loss
    topic_loss_weight: float = 0.1
    weight_positives: bool = False
    eval_k: int = 20
    top_k_interests: int = 10
    interest_readout: str = "embedding"  # INTERESTED_IN scores: embedding (User·Topic) or items (gnn/interests.py)
    interest_background: float = 0.1  # items: share of interactions explained by popularity, not interest
    interest_em_iters: int = 30      # items: EM iterations
    interest_refine_items: bool = True  # items: re-estimate unlabelled items' topics from co-interaction
    interest_item_prior: float = 5.0  # items: pseudo-count weight of the modality prediction in that refinement
    top_k_recommendations: int = 50
    score_batch_users: int = 1024
    eval_users: int = 0  # validation/test rank a seeded random sample of this many users; 0 = every user
    seed: int = 0
    num_threads: int = 0  # torch CPU threads; 0 = torch's default. 1 is ~10x faster on an oversubscribed box

    def __post_init__(self) -> None:
        for name, allowed in (("model", MODELS), ("backend", BACKENDS), ("loss", LOSSES), ("head", HEADS),
                              ("split", SPLITS), ("device", DEVICES), ("activation", ACTIVATIONS),
                              ("fusion", FUSION_METHODS), ("interaction_features", INTERACTION_FEATURES),
                              ("interest_readout", INTEREST_READOUTS), ("l2_target", L2_TARGETS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("emb_dim", "num_layers", "num_negatives", "epochs", "patience", "batch_size", "eval_k",
                     "top_k_interests", "top_k_recommendations", "score_batch_users", "min_user_interactions",
                     "fusion_align_sample"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("lr", "half_life_days", "fusion_temperature"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("dropout", "id_dropout"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ConfigError(f"val_frac and test_frac must be in (0, 1) with sum < 1, got "
                              f"{self.val_frac!r}, {self.test_frac!r}")
        if self.eval_users < 0:
            raise ConfigError(f"eval_users must be >= 0 (0 = every user), got {self.eval_users!r}")
        if self.num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0, got {self.num_threads!r}")
        if self.weight_decay < 0 or self.topic_loss_weight < 0 or self.l2 < 0:
            raise ConfigError("weight_decay, l2 and topic_loss_weight must be >= 0")
        object.__setattr__(self, "fanouts", tuple(int(f) for f in self.fanouts))
        object.__setattr__(self, "negative_kinds", tuple(self.negative_kinds))
        object.__setattr__(self, "exclude_features", tuple(self.exclude_features))
        object.__setattr__(self, "stats_labels", tuple(self.stats_labels))
        object.__setattr__(self, "exclude_relations", tuple(self.exclude_relations))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "fusion_weights", tuple(float(w) for w in self.fusion_weights))
        if self.fusion_weights and (len(self.fusion_weights) != len(self.modalities)
                                    or min(self.fusion_weights) < 0 or sum(self.fusion_weights) <= 0):
            raise ConfigError(f"fusion_weights needs one weight >= 0 per entry of modalities {list(self.modalities)} "
                              f"(not all 0), got {list(self.fusion_weights)}")
        if not 0.0 <= self.interest_background < 1.0 or self.interest_item_prior < 0 or self.interest_em_iters < 1:
            raise ConfigError(f"interest_background must be in [0, 1), interest_item_prior >= 0 and "
                              f"interest_em_iters >= 1, got {self.interest_background!r}, "
                              f"{self.interest_item_prior!r}, {self.interest_em_iters!r}")
        if self.fusion_align_weight < 0:
            raise ConfigError(f"fusion_align_weight must be >= 0, got {self.fusion_align_weight!r}")
        if "INTERACTED" in self.exclude_relations:
            raise ConfigError("exclude_relations cannot hold INTERACTED (the relation being predicted)")
        if set(self.stats_labels) - {"User", "Content"}:
            raise ConfigError(f"stats_labels may hold User and Content only, got {list(self.stats_labels)}")
        if len(self.fanouts) != self.num_layers or any(f == 0 or f < -1 for f in self.fanouts):
            raise ConfigError(f"fanouts needs one entry per layer ({self.num_layers}), each >= 1 or -1 (all), "
                              f"got {list(self.fanouts)}")
        if not self.use_features and not self.use_id_embeddings:
            raise ConfigError("use_features and use_id_embeddings cannot both be false")

    @property
    def half_life_s(self) -> float:
        return self.half_life_days * DAY

    def to_dict(self) -> dict:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "config") -> "TrainConfig":
        """Build from a plain mapping; unknown keys raise ConfigError listing the valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        try:
            return cls(**data)
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from e

    @classmethod
    def from_yaml(cls, path: Path, **overrides) -> "TrainConfig":
        """Load a YAML mapping (flat, or sectioned: every top-level mapping is merged); overrides win."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at top level")
        flat: dict = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
        flat.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(flat, source=str(path))

    def with_overrides(self, **overrides) -> "TrainConfig":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
