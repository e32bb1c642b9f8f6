with

source as (

    select * from {{ source('orchestra_metadata', 'task_runs') }}

),

final as (

    select

        ---------- ids
        cast(id as varchar) as task_run_id,
        cast(pipeline_run_id as varchar) as pipeline_run_id,
        cast(pipeline_id as varchar) as pipeline_id,
        cast(task_id as varchar) as task_id,
        cast(connection_id as varchar) as connection_id,

        ---------- text
        cast(task_name as varchar) as task_name,
        cast(integration as varchar) as integration,
        cast(integration_job as varchar) as integration_job,
        cast(status as varchar) as status,
        cast(message as varchar) as message,
        cast(external_status as varchar) as external_status,
        cast(platform_link as varchar) as platform_link,

        ---------- json
        task_parameters,
        run_parameters,

        ---------- numerics
        coalesce(cast(number_of_attempts as bigint), 0) as number_of_attempts,

        ---------- timestamps
        cast(created_at as timestamp with time zone) as created_at,
        cast(started_at as timestamp with time zone) as started_at,
        cast(completed_at as timestamp with time zone) as completed_at,
        cast(loaded_at as timestamp with time zone) as loaded_at,

        ---------- measures (seconds)
        {{ dbt.datediff('started_at', 'completed_at', 'millisecond') }} / 1000.0 as duration_seconds

    from source

)

select * from final
