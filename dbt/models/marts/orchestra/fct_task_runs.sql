-- One row per task run, with its pipeline and whether it needed retries.

with

task_runs as (

    select * from {{ ref('stg_orchestra__task_runs') }}

),

pipeline_runs as (

    select pipeline_run_id, pipeline_name from {{ ref('stg_orchestra__pipeline_runs') }}

),

final as (

    select
        task_runs.task_run_id,
        task_runs.pipeline_run_id,
        task_runs.pipeline_id,
        pipeline_runs.pipeline_name,
        task_runs.task_id,
        task_runs.task_name,
        task_runs.integration,
        task_runs.integration_job,
        task_runs.status,
        task_runs.message,
        task_runs.number_of_attempts,
        task_runs.number_of_attempts > 1 as is_retried,
        -- succeeded, but only after one or more failed attempts
        task_runs.number_of_attempts > 1 and task_runs.status in ('SUCCEEDED', 'WARNING') as is_flaky,
        task_runs.created_at,
        task_runs.started_at,
        task_runs.completed_at,
        task_runs.duration_seconds

    from task_runs
    left join pipeline_runs on pipeline_runs.pipeline_run_id = task_runs.pipeline_run_id

)

select * from final
