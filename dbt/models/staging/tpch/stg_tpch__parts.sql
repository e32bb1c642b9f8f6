with

source as (

    select * from {{ source('tpch', 'part') }}{{ live_rows(source('tpch', 'part')) }}

),

final as (

    select

        ---------- ids
        cast(p_partkey as bigint) as part_id,

        ---------- text
        cast(p_name as varchar) as part_name,
        trim(cast(p_mfgr as varchar)) as manufacturer,
        trim(cast(p_brand as varchar)) as brand,
        cast(p_type as varchar) as part_type,
        trim(cast(p_container as varchar)) as container,
        cast(p_comment as varchar) as part_comment,

        ---------- numerics
        cast(p_size as integer) as part_size,
        cast(p_retailprice as decimal(15, 2)) as retail_price,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
