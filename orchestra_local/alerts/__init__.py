"""Alerts: the ``alerts:`` of a pipeline and of its tasks, delivered through a transactional outbox.

When a pipeline run or a task run reaches a status an alert rule names (``statuses``; ``ANY_COMPLETED``
= any terminal status), :mod:`~orchestra_local.alerts.rules` turns each destination into one outbox
row, which the store writes in the same transaction as that status (``RunStore.update_pipeline_run``,
``update_task_run``, ``end_run``: their ``outbox`` argument). :mod:`~orchestra_local.alerts.delivery`
then sends due rows (inside ``serve``, at the end of ``orchestra-local run``, and by hand with
``orchestra-local alerts deliver``) with capped exponential backoff and jitter, marks each DELIVERED,
or DEAD with the last error after :data:`~orchestra_local.alerts.delivery.MAX_ATTEMPTS` attempts.
A status that committed is never without its alerts, even if the process dies right after: the next
deliverer sends them. Senders: :mod:`~orchestra_local.alerts.senders`.
"""
