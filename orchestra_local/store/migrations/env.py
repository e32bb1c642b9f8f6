"""Alembic environment of the run store: always run in process by ``orchestra_local.store.schema``.

The connection (already holding the migration lock) arrives in ``config.attributes["connection"]``;
there is no ``alembic.ini`` and no URL in any file, so no credential is ever written down.
"""

from __future__ import annotations

from alembic import context

from orchestra_local.store.models import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
