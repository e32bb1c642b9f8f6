-- One row per dbt node (model, test, seed, snapshot) a DBT_CORE task ran, from the task's operations.

with

operations as (

    select * from {{ ref('stg_orchestra__operations') }}

),

task_runs as (

    select task_run_id, pipeline_name, task_id from {{ ref('fct_task_runs') }}

),

final as (

    select
        operations.operation_id as dbt_node_run_id,
        operations.pipeline_run_id,
        operations.task_run_id,
        task_runs.pipeline_name,
        task_runs.task_id,
        operations.operation_name as node_name,
        operations.operation_type,
        operations.external_id as unique_id,
        operations.operation_status as status,
        operations.duration_seconds,
        operations.rows_affected,
        operations.started_at,
        operations.completed_at

    from operations
    left join task_runs on task_runs.task_run_id = operations.task_run_id
    where operations.integration = 'DBT_CORE'

)

select * from final
