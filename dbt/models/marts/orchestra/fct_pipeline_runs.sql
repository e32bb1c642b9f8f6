-- One row per pipeline run: its outcome, how long it took and what its tasks needed.

with

pipeline_runs as (

    select * from {{ ref('stg_orchestra__pipeline_runs') }}

),

task_runs as (

    select * from {{ ref('fct_task_runs') }}

),

per_run as (

    select
        pipeline_run_id,
        count(*) as task_run_count,
        count(*) filter (where status = 'FAILED') as failed_task_run_count,
        count(*) filter (where is_retried) as retried_task_run_count,
        count(*) filter (where is_flaky) as flaky_task_run_count,
        coalesce(sum(number_of_attempts), 0) as attempt_count

    from task_runs
    group by pipeline_run_id

),

final as (

    select
        pipeline_runs.pipeline_run_id,
        pipeline_runs.pipeline_id,
        pipeline_runs.pipeline_name,
        pipeline_runs.env_name,
        pipeline_runs.run_status,
        pipeline_runs.run_status in ('SUCCEEDED', 'WARNING') as is_success,
        pipeline_runs.run_status in ('SUCCEEDED', 'WARNING', 'FAILED', 'SKIPPED', 'CANCELLED') as is_ended,
        pipeline_runs.message,
        pipeline_runs.branch,
        pipeline_runs.commit_sha,
        pipeline_runs.created_at,
        pipeline_runs.started_at,
        pipeline_runs.completed_at,
        cast(pipeline_runs.created_at as date) as run_date,
        pipeline_runs.duration_seconds,
        coalesce(per_run.task_run_count, 0) as task_run_count,
        coalesce(per_run.failed_task_run_count, 0) as failed_task_run_count,
        coalesce(per_run.retried_task_run_count, 0) as retried_task_run_count,
        coalesce(per_run.flaky_task_run_count, 0) as flaky_task_run_count,
        coalesce(per_run.attempt_count, 0) as attempt_count

    from pipeline_runs
    left join per_run on per_run.pipeline_run_id = pipeline_runs.pipeline_run_id

)

select * from final
