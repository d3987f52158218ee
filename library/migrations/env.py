"""Alembic environment: uses the caller's connection when one is given."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from library.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    """Emit SQL without a database (alembic upgrade --sql)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate over the given connection, or one made from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        # render_as_batch: SQLite can only ALTER tables by copying them; batch mode does that.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
