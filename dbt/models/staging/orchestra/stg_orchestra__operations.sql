with

source as (

    select * from {{ source('orchestra_metadata', 'operations') }}

),

final as (

    select

        ---------- ids
        cast(id as varchar) as operation_id,
        cast(pipeline_run_id as varchar) as pipeline_run_id,
        cast(task_run_id as varchar) as task_run_id,
        cast(external_id as varchar) as external_id,

        ---------- text
        cast(operation_name as varchar) as operation_name,
        cast(operation_status as varchar) as operation_status,
        cast(operation_type as varchar) as operation_type,
        cast(integration as varchar) as integration,
        cast(integration_job as varchar) as integration_job,
        cast(message as varchar) as message,
        cast(external_status as varchar) as external_status,
        cast(external_detail as varchar) as external_detail,

        ---------- json
        dependencies,

        ---------- numerics
        cast(operation_duration as double) as duration_seconds,
        cast(rows_affected as bigint) as rows_affected,

        ---------- timestamps
        cast(inserted_at as timestamp with time zone) as inserted_at,
        cast(started_at as timestamp with time zone) as started_at,
        cast(completed_at as timestamp with time zone) as completed_at,
        cast(loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
