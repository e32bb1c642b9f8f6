with

source as (

    select * from {{ source('tpch', 'region') }}{{ live_rows(source('tpch', 'region')) }}

),

final as (

    select

        ---------- ids
        cast(r_regionkey as bigint) as region_id,

        ---------- text
        -- TPC-H declares names as CHAR(n): a fixed-width source pads them with spaces.
        trim(cast(r_name as varchar)) as region_name,
        cast(r_comment as varchar) as region_comment,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
