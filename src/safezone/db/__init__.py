"""Storage: SQLAlchemy 2 async engine, ORM base and Alembic migrations."""
