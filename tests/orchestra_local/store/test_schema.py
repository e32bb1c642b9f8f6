"""Schema migrations: models and migrations agree, old stores upgrade, first concurrent use is safe."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from orchestra_local.store import RunStore, schema
from orchestra_local.store.database import open_engine
from orchestra_local.store.models import METADATA


def test_head_constant_is_the_head_of_the_migration_scripts() -> None:
    assert schema.head_of_scripts() == schema.HEAD


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migrated_schema_matches_the_models(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_schema_url")
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, METADATA)
            assert schema.current_revision(connection) == schema.HEAD
    finally:
        engine.dispose()
    assert differences == [], "models.py changed without a migration: add one under store/migrations/versions"


def test_a_store_made_before_migrations_is_stamped_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    legacy = sa.create_engine(url)
    # what every earlier version of the runner made with create_all: revision 0001's tables, unversioned
    config = Config()
    config.set_main_option("script_location", schema.SCRIPT_LOCATION)
    with legacy.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, schema.FIRST_REVISION)
        connection.execute(sa.text(f"drop table {schema.VERSION_TABLE}"))
    with legacy.begin() as connection:
        connection.execute(
            sa.text(
                "insert into pipeline_runs (id, pipeline_id, pipeline_name, pipeline_alias, yaml_path, account_id,"
                " run_status, message, created_at, updated_at, triggered_by, run_inputs)"
                " values ('r1', 'p1', 'old', 'old', 'orchestra/old.yml', 'a', 'SUCCEEDED', '',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00', '[]', '{}')"
            )
        )
    legacy.dispose()
    store = RunStore(url)
    try:
        assert store.get_pipeline_run("r1")["run_status"] == "SUCCEEDED"
        with store.engine.connect() as connection:
            assert schema.current_revision(connection) == schema.HEAD
    finally:
        store.close()


def _open_store(url: str) -> None:
    RunStore(url).close()


def test_first_concurrent_use_of_an_empty_sqlite_store_creates_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_store, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]


@pytest.mark.postgres
def test_first_concurrent_use_of_an_empty_postgres_store_creates_it_once(postgres_schema_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_concurrently() -> None:
        barrier.wait()
        try:
            _open_store(postgres_schema_url)
        except BaseException as exc:  # collected and asserted below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=open_concurrently, daemon=True) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a store opening hung (migration race)"
    assert errors == []
    engine = sa.create_engine(postgres_schema_url)
    with engine.connect() as connection:
        assert schema.current_revision(connection) == schema.HEAD
        assert connection.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
    engine.dispose()


def test_db_upgrade_command_reports_the_newest_revision(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orchestra_local.cli import main

    result = CliRunner().invoke(main, ["db", "upgrade", "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 0, result.output
    assert f"revision {schema.HEAD}" in result.output
    assert (tmp_path / "state" / "metadata.db").exists()
