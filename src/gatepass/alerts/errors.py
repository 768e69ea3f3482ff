"""How a delivery attempt failed: try again later, or never."""

from __future__ import annotations


class DeliveryFailed(Exception):
    """Worth another attempt (a receiver down, a timeout, a 4xx/5xx that may pass).

    ``str()`` goes into the outbox row and the log: a status or a class name, never a
    receiver's own words (which could quote what was sent)."""


class Undeliverable(DeliveryFailed):
    """No retry can help (the mail server refused the recipient for good)."""
