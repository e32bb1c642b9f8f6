with

source as (

    select * from {{ source('orchestra_metadata', 'pipeline_runs') }}

),

final as (

    select

        ---------- ids
        cast(id as varchar) as pipeline_run_id,
        cast(pipeline_id as varchar) as pipeline_id,
        cast(env_id as varchar) as env_id,

        ---------- text
        cast(pipeline_name as varchar) as pipeline_name,
        cast(env_name as varchar) as env_name,
        cast(run_status as varchar) as run_status,
        cast(message as varchar) as message,
        cast(branch as varchar) as branch,
        cast("commit" as varchar) as commit_sha,
        cast(pipeline_version_number as bigint) as pipeline_version_number,

        ---------- timestamps
        cast(created_at as timestamp with time zone) as created_at,
        cast(started_at as timestamp with time zone) as started_at,
        cast(completed_at as timestamp with time zone) as completed_at,
        cast(updated_at as timestamp with time zone) as updated_at,
        cast(loaded_at as timestamp with time zone) as loaded_at,

        ---------- measures (seconds)
        {{ dbt.datediff('started_at', 'completed_at', 'millisecond') }} / 1000.0 as duration_seconds

    from source

)

select * from final
