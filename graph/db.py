"""Driver and session helpers: one Driver per process, parameterised reads, batched UNWIND writes.

Every write goes through a managed transaction (``execute_write``), which the driver retries
on transient errors; the queries it runs must therefore be idempotent (MERGE on unique keys).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, LiteralString, TypeVar

import neo4j
from neo4j import GraphDatabase, RoutingControl
from neo4j.exceptions import AuthError, ClientError, Neo4jError, ServiceUnavailable, SessionExpired

from graph.errors import GraphError
from graph.settings import Neo4jSettings

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000
CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")


def connect(settings: Neo4jSettings | None = None, *, verify: bool = True) -> neo4j.Driver:
    """Open the process's Driver; GraphError with a hint if Neo4j is unreachable or rejects us."""
    settings = settings or Neo4jSettings.from_env()
    if settings.managed and not settings.password:
        raise GraphError("the managed Neo4j has no password file yet: run `ikg server start` first "
                         "(or set NEO4J_URI/NEO4J_USERNAME/NEO4J_PASSWORD for your own server)")
    driver = GraphDatabase.driver(settings.uri, auth=(settings.username, settings.password),
                                  connection_timeout=CONNECT_TIMEOUT_S, max_transaction_retry_time=15.0)
    if verify:
        try:
            driver.verify_connectivity()
        except BaseException as e:
            driver.close()
            raise _as_graph_error(e, settings) from e
    return driver


def _as_graph_error(e: BaseException, settings: Neo4jSettings) -> BaseException:
    hint = "`ikg server start`" if settings.managed else "NEO4J_URI"
    if isinstance(e, AuthError):
        return GraphError(f"Neo4j at {settings.uri} rejected user {settings.username!r}: wrong username or "
                          "password (check NEO4J_USERNAME/NEO4J_PASSWORD, or the managed password file)")
    if isinstance(e, (ServiceUnavailable, SessionExpired, OSError)):
        return GraphError(f"Neo4j is unreachable at {settings.uri} ({e.__class__.__name__}: {e}); "
                          f"is it running? Check {hint}")
    if isinstance(e, Neo4jError):
        return GraphError(f"Neo4j error at {settings.uri}: {e}")
    return e


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class Graph:
    """A Driver plus the database to use; the one handle every module passes around.

    Use as a context manager, or call ``close()``. Methods return plain Python data.
    """

    def __init__(self, driver: neo4j.Driver, database: str | None = None, uri: str = ""):
        self.driver = driver
        self.database = database
        self.uri = uri

    @classmethod
    def connect(cls, settings: Neo4jSettings | None = None, *, verify: bool = True) -> "Graph":
        settings = settings or Neo4jSettings.from_env()
        return cls(connect(settings, verify=verify), settings.database, settings.uri)

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> "Graph":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
        """Run a read query (routed to readers) and return its records as plain dicts."""
        try:
            records, _, _ = self.driver.execute_query(query, params, routing_=RoutingControl.READ,
                                                      database_=self.database)
        except ClientError as e:
            raise GraphError(f"query failed: {e.message}") from e
        except (ServiceUnavailable, SessionExpired, OSError) as e:
            raise GraphError(f"Neo4j is unreachable at {self.uri}: {e}") from e
        return [record.data() for record in records]

    def run_read(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run a unit of read work in one retried read transaction."""
        return self._run(work, write=False)

    def run_write(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run a unit of work in one retried write transaction; it commits whole or not at all."""
        return self._run(work, write=True)

    def _run(self, work: Callable[[neo4j.ManagedTransaction], T], *, write: bool) -> T:
        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(work) if write else session.execute_read(work)
        except ClientError as e:
            raise GraphError(f"{'write' if write else 'read'} failed: {e.message}") from e
        except (ServiceUnavailable, SessionExpired, OSError) as e:
            raise GraphError(f"Neo4j is unreachable at {self.uri}: {e}") from e

    def write(self, query: LiteralString, **params: Any) -> neo4j.SummaryCounters:
        """Run one write query in its own managed transaction; returns the update counters."""
        return self.run_write(lambda tx: tx.run(query, params).consume().counters)

    def write_batches(self, query: LiteralString, rows: Iterable[dict[str, Any]], *,
                      batch_size: int = BATCH_SIZE, progress: Callable[[int], None] | None = None,
                      **params: Any) -> "WriteStats":
        """Run ``query`` (which reads ``$rows``) once per batch, each batch in its own transaction.

        A failing batch raises GraphError; earlier batches stay committed, so the query must be
        idempotent for a rerun to converge on the same graph.
        """
        stats = WriteStats()
        started = time.perf_counter()
        for batch in batched(rows, batch_size):
            counters = self.run_write(
                lambda tx, b=batch: tx.run(query, {**params, "rows": b}).consume().counters)
            stats.add(len(batch), counters)
            if progress is not None:
                progress(len(batch))
        stats.seconds = time.perf_counter() - started
        return stats

    def components(self) -> dict[str, str]:
        """Name -> version of the server and its plugins (APOC, GDS) where installed."""
        info = {row["name"]: row["versions"][0] for row in self.read(
            "CALL dbms.components() YIELD name, versions RETURN name, versions")}
        for name, query in (("apoc", "RETURN apoc.version() AS v"), ("gds", "RETURN gds.version() AS v")):
            try:
                info[name] = self.read(query)[0]["v"]
            except GraphError:
                logger.debug("%s is not installed on this server", name)
        return info


@dataclass
class WriteStats:
    """Totals of a batched write."""

    rows: int = 0
    batches: int = 0
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0
    seconds: float = 0.0

    def add(self, rows: int, counters: neo4j.SummaryCounters) -> None:
        self.rows += rows
        self.batches += 1
        self.nodes_created += counters.nodes_created
        self.relationships_created += counters.relationships_created
        self.properties_set += counters.properties_set

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0
