"""Persistence: SQLAlchemy 2 models and repositories, Alembic migrations, the master secret."""
