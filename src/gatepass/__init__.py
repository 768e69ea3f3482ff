"""gatepass: a token-based authentication server and the SDK that services use to trust it."""

__version__ = "0.1.0"
