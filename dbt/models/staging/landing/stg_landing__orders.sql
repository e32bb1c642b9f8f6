with

source as (

    select * from {{ source('landing', 'orders') }}

),

final as (

    select
        cast(o_orderkey as bigint) as order_key,
        cast(o_custkey as bigint) as customer_key,
        cast(o_orderdate as date) as order_date,
        cast(o_totalprice as decimal(15, 2)) as total_price,
        cast(o_orderstatus as varchar) as order_status
    from source

)

select * from final
