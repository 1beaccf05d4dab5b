"""Prometheus text metrics: request counts and latency histograms per endpoint (this process)."""
from __future__ import annotations

import bisect
import os
import threading
import time

from flask import Flask, Response, g, request

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Thread-safe counters and histograms, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, endpoint, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            counts = self._hist.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum[endpoint] = self._sum.get(endpoint, 0.0) + seconds

    def render(self) -> str:
        pid = os.getpid()
        lines = ["# HELP ikg_api_requests_total HTTP requests answered, by method, endpoint and status.",
                 "# TYPE ikg_api_requests_total counter"]
        with self._lock:
            for (method, endpoint, status), n in sorted(self._requests.items()):
                lines.append(f'ikg_api_requests_total{{method="{method}",endpoint="{endpoint}",'
                             f'status="{status}",pid="{pid}"}} {n}')
            lines += ["# HELP ikg_api_request_duration_seconds Request latency, by endpoint.",
                      "# TYPE ikg_api_request_duration_seconds histogram"]
            for endpoint, counts in sorted(self._hist.items()):
                cumulative = 0
                for bound, n in zip((*BUCKETS, float("inf")), counts):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'ikg_api_request_duration_seconds_bucket{{endpoint="{endpoint}",le="{le}",'
                                 f'pid="{pid}"}} {cumulative}')
                lines.append(f'ikg_api_request_duration_seconds_sum{{endpoint="{endpoint}",pid="{pid}"}} '
                             f'{self._sum[endpoint]:.6f}')
                lines.append(f'ikg_api_request_duration_seconds_count{{endpoint="{endpoint}",pid="{pid}"}} '
                             f'{cumulative}')
        return "\n".join(lines) + "\n"


def init_app(app: Flask) -> Metrics:
    """Time every request; the endpoint label is the URL rule (bounded cardinality), not the path."""
    metrics = Metrics()
    app.extensions["ikg_metrics"] = metrics

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            metrics.observe(request.method, rule, response.status_code, time.perf_counter() - started)
        return response

    return metrics
