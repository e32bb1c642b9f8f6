with

source as (

    select * from {{ source('tpch', 'orders') }}{{ live_rows(source('tpch', 'orders')) }}

),

renamed as (

    select

        ---------- ids
        cast(o_orderkey as bigint) as order_id,
        cast(o_custkey as bigint) as customer_id,

        ---------- text
        trim(cast(o_orderstatus as varchar)) as order_status,
        trim(cast(o_orderpriority as varchar)) as order_priority,
        trim(cast(o_clerk as varchar)) as clerk_name,
        cast(o_comment as varchar) as order_comment,

        ---------- numerics
        cast(o_totalprice as decimal(15, 2)) as total_price,
        cast(o_shippriority as integer) as ship_priority,

        ---------- dates and timestamps
        cast(o_orderdate as date) as order_date,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

),

final as (

    select
        *,

        ---------- booleans
        order_status = 'F' as is_fulfilled

    from renamed

)

select * from final
