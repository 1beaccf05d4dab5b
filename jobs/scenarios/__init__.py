"""Seed case studies as runnable scenarios (`ikg scenario list|run|stop|env`).

``movies`` (MovieLens-100K recommendation), ``social`` (a feed on the synthetic multimodal
world) and ``education`` (a learner's skill profile and next courses). Each runs the shared
pipeline (``jobs.demo.Pipeline``) in its own managed Neo4j and prints what it demonstrates,
stage timings, the facts read from the graph and the queries and endpoints to look at.
"""
from __future__ import annotations

from graph.errors import ConfigError
from jobs.scenarios.base import Scenario
from jobs.scenarios.education import EducationScenario
from jobs.scenarios.movies import MoviesScenario
from jobs.scenarios.social import SocialScenario

SCENARIOS: dict[str, Scenario] = {s.info.name: s for s in (MoviesScenario(), SocialScenario(), EducationScenario())}


def get(name: str) -> Scenario:
    """The scenario called ``name``; ConfigError listing the valid names otherwise."""
    if name not in SCENARIOS:
        raise ConfigError(f"no scenario {name!r}; available: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
