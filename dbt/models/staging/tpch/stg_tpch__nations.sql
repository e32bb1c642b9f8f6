with

source as (

    select * from {{ source('tpch', 'nation') }}{{ live_rows(source('tpch', 'nation')) }}

),

final as (

    select

        ---------- ids
        cast(n_nationkey as bigint) as nation_id,
        cast(n_regionkey as bigint) as region_id,

        ---------- text
        trim(cast(n_name as varchar)) as nation_name,
        cast(n_comment as varchar) as nation_comment,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
