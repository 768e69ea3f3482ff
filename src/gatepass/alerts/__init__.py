"""Delivering security alerts from the outbox (``storage/outbox.py``): email over SMTP
(``smtp``), Standard Webhooks (``webhook``), and the worker that claims, sends and retries
(``worker``)."""
