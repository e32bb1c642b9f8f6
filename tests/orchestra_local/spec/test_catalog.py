"""The catalog agrees with Orchestra's validator on every job it knows (regenerate when this fails)."""

from __future__ import annotations

from orchestra_local.spec import catalog


def test_every_job_oml_lang_knows_is_in_the_catalog_with_its_owner() -> None:
    names = catalog.oml_job_names()
    assert len(names) > 100 and {"SFTP_GET_FILE", "SFTP_PUT_FILE", "AWS_S3_GET_FILE"} <= names
    wrong = {job: (catalog.job_owner(job), catalog.probe_owner(job)) for job in sorted(names)
             if catalog.job_owner(job) != catalog.probe_owner(job)}
    assert not wrong, f"regenerate catalog.json (python -m orchestra_local.spec.catalog --openapi ...): {wrong}"


def test_every_owner_is_a_known_integration() -> None:
    jobs = {job for integration in catalog.integrations() for job in catalog.jobs_of(integration)}
    assert catalog.jobs_of("SFTP") == ["SFTP_GET_FILE", "SFTP_PUT_FILE"]
    assert len(jobs) > 140
