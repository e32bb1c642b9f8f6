"""dbt artifacts -> Orchestra operations.

Reads ``run_results.json`` (dbt artifact schema run-results v6, dbt 1.8-1.11), ``sources.json``
(source freshness, sources v3) and ``manifest.json`` (manifest v12) and maps each result to one
operation as orchestra-contract section 4 says: model -> MATERIALISATION, test and unit test -> TEST,
seed -> SEED, snapshot -> SNAPSHOT, source freshness -> SOURCE; success/pass -> SUCCEEDED,
error/fail/runtime error -> FAILED, warn -> WARNING, skipped -> SKIPPED.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestra_local.spec.statuses import OperationStatus, OperationType

RESOURCE_TYPES: dict[str, OperationType] = {
    "model": OperationType.MATERIALISATION,
    "test": OperationType.TEST,
    "unit_test": OperationType.TEST,
    "seed": OperationType.SEED,
    "snapshot": OperationType.SNAPSHOT,
    "source": OperationType.SOURCE,
    "analysis": OperationType.ANALYSIS,
    "operation": OperationType.OPERATION,
}

STATUSES: dict[str, OperationStatus] = {
    "success": OperationStatus.SUCCEEDED,
    "pass": OperationStatus.SUCCEEDED,
    "error": OperationStatus.FAILED,
    "fail": OperationStatus.FAILED,
    "runtime error": OperationStatus.FAILED,
    "warn": OperationStatus.WARNING,
    "skipped": OperationStatus.SKIPPED,
    "no-op": OperationStatus.SKIPPED,
}


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _span(timing: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    starts = [t for t in (_timestamp(x.get("started_at")) for x in timing) if t is not None]
    ends = [t for t in (_timestamp(x.get("completed_at")) for x in timing) if t is not None]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _manifest_node(manifest: dict[str, Any], unique_id: str) -> dict[str, Any]:
    for section in ("nodes", "unit_tests", "sources", "snapshots", "seeds"):
        node = manifest.get(section, {}).get(unique_id)
        if node is not None:
            return node
    return {}


def load_json(path: Path) -> dict[str, Any] | None:
    """Parse a JSON artifact, or None when the command did not write it."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def operations_from_results(
    results: dict[str, Any], manifest: dict[str, Any] | None, *, freshness: bool = False
) -> list[dict[str, Any]]:
    """One operation record per node result.

    Args:
        results: Parsed ``run_results.json`` (or ``sources.json`` with ``freshness=True``).
        manifest: Parsed ``manifest.json`` for names, dependencies and relations (may be None).
        freshness: The results are source freshness results (type SOURCE).

    Returns:
        Records with the column names of the ``operations`` table, without run ids.
    """
    manifest = manifest or {}
    operations = []
    for result in results.get("results", []):
        unique_id = str(result.get("unique_id", ""))
        resource = unique_id.split(".", 1)[0]
        node = _manifest_node(manifest, unique_id)
        op_type = OperationType.SOURCE if freshness else RESOURCE_TYPES.get(resource, OperationType.UNKNOWN)
        raw_status = str(result.get("status", "")).lower()
        started, completed = _span(result.get("timing") or [])
        adapter = result.get("adapter_response") or {}
        rows = adapter.get("rows_affected")
        operations.append(
            {
                "operation_name": node.get("name") or unique_id.rsplit(".", 1)[-1],
                "operation_status": STATUSES.get(raw_status, OperationStatus.UNKNOWN).value,
                "operation_type": op_type.value,
                "external_id": unique_id,
                "external_status": raw_status,
                "external_detail": result.get("message"),
                "message": result.get("message"),
                "started_at": started,
                "completed_at": completed,
                "operation_duration": float(result.get("execution_time") or 0.0),
                "rows_affected": int(rows) if isinstance(rows, int) and rows >= 0 else None,
                "dependencies": list((node.get("depends_on") or {}).get("nodes", [])),
                "asset_external_id": result.get("relation_name") or node.get("relation_name"),
                "meta": {"failures": result.get("failures"), "resource_type": resource,
                         # view/table/incremental/...: GET /assets types the asset by it (store/assets.py)
                         "materialized": (node.get("config") or {}).get("materialized")},
            }
        )
    return operations


MESSAGE_LINES = 3
"""Lines of each failed node's message in a task's failure message (the full text is in the log)."""
MAX_FAILED_NODES = 10
"""Failed nodes named in a task's failure message; the rest are counted."""


def failure_message(step: str, exception: BaseException | None, operations: list[dict[str, Any]], log: Path) -> str:
    """Why a dbt command failed, as ``dbt build`` itself summarises it, for the task run's message.

    A command that raised (a parse or compilation error, a missing profile, ...) gives dbt's error
    whole; one whose nodes failed names each failed model/test/seed with the first
    ``MESSAGE_LINES`` lines of dbt's message. Either way it ends with the full log's path.

    Args:
        step: The dbt command, e.g. ``dbt build --select source:tpch+``.
        exception: ``dbtRunnerResult.exception``, or None when dbt ran and nodes failed.
        operations: The command's operations (:func:`operations_from_results`).
        log: The task's log file of this command.
    """
    if exception is not None:
        return f"'{step}' failed: {str(exception).strip()}\nfull log: {log}"
    failed = [op for op in operations if op["operation_status"] == OperationStatus.FAILED.value]
    if not failed:
        return f"'{step}' failed: dbt reported failure without a failed node\nfull log: {log}"
    lines = [f"'{step}' failed: {len(failed)} node(s) failed"]
    for op in failed[:MAX_FAILED_NODES]:
        kind = (op.get("meta") or {}).get("resource_type") or op["operation_type"].lower()
        text = "\n    ".join(str(op.get("message") or op.get("external_status") or "").strip().splitlines()[:MESSAGE_LINES])
        lines.append(f"  {kind} {op['operation_name']}: {text}")
    if len(failed) > MAX_FAILED_NODES:
        lines.append(f"  ... and {len(failed) - MAX_FAILED_NODES} more")
    lines.append(f"full log: {log}")
    return "\n".join(lines)
