"""``orchestra-local export dagster|airflow``: the pipelines of ``orchestra/`` as a Dagster deployment's definitions or Airflow DAG files."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from orchestra_local.cli_support import errors_to_exit_codes, stderr, stdout


@click.group()
def export() -> None:
    """Write what another orchestrator loads to run the same pipeline YAML (deploy/README.md)."""


@export.command()
@click.option("--pipelines", type=click.Path(path_type=Path), default=Path("orchestra"), show_default=True,
              help="Pipeline folder (or one file) the definitions load.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("deploy/dagster"), show_default=True,
              help="Folder to write definitions.py into.")
@errors_to_exit_codes
def dagster(pipelines: Path, out: Path) -> None:
    """Write <out>/definitions.py: one Dagster job per pipeline file, its schedules and trigger sensors.

    Exit 2, writing nothing, when a pipeline cannot be exported (remote-only integrations, a cron
    Dagster cannot express), with the file and YAML path.
    """
    from orchestra_local.export.codegen import write_dagster_definitions

    target, notes = write_dagster_definitions(pipelines, out)
    for note in notes:
        stderr.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    stdout.print(f"wrote {escape(str(target))}; load it with: dagster dev -f {escape(str(target))}", highlight=False,
                 soft_wrap=True)


@export.command()
@click.option("--pipelines", type=click.Path(path_type=Path), default=Path("orchestra"), show_default=True,
              help="Pipeline folder (or one file) to write DAG files for.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("deploy/airflow/dags"), show_default=True,
              help="Folder to write <alias>.py into (Airflow's dags folder, or a folder in it).")
@errors_to_exit_codes
def airflow(pipelines: Path, out: Path) -> None:
    """Write <out>/<alias>.py per pipeline file: one Airflow DAG each, with its schedule and trigger assets.

    Airflow is not needed here (the files import it when Airflow parses them). Exit 2, writing
    nothing, when a pipeline cannot be exported (remote-only integrations, a schedule Airflow
    cannot express), with the file and YAML path.
    """
    from orchestra_local.export.codegen import write_airflow_dags

    written, notes = write_airflow_dags(pipelines, out)
    for note in notes:
        stderr.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    for target in written:
        stdout.print(f"wrote {escape(str(target))}", highlight=False, soft_wrap=True)
