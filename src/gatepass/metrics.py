"""Prometheus metrics, in a registry of the app's own (no process-wide globals)."""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tokens_issued = Counter(
            "gatepass_tokens_issued", "Access tokens issued", ["grant_type"], registry=r
        )
        self.token_errors = Counter(
            "gatepass_token_errors", "Token endpoint errors", ["error"], registry=r
        )
        self.refreshes = Counter("gatepass_refreshes", "Refresh-token rotations", registry=r)
        self.reuse_detections = Counter(
            "gatepass_refresh_reuse_detections", "Refresh-token reuse detections", registry=r
        )
        self.verifications = Counter(
            "gatepass_verifications", "Access-token verifications", ["result"], registry=r
        )
        self.login_failures = Counter("gatepass_login_failures", "Failed logins", registry=r)
        self.lockouts = Counter("gatepass_lockouts", "Login lockouts started", registry=r)
        self.request_latency = Histogram(
            "gatepass_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


@functools.lru_cache(maxsize=256)  # label values are few (route templates, grant types, results)
def labelled(metric: Any, value: str) -> Any:
    """``metric.labels(value)``, remembered: prometheus_client rebuilds the label tuple and takes
    a lock on every ``labels()`` call, a few µs on each request."""
    return metric.labels(value)
