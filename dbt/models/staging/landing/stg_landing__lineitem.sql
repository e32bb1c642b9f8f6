with

source as (

    select * from {{ source('landing', 'lineitem') }}

),

final as (

    select
        cast(l_orderkey as bigint) as order_key,
        cast(l_linenumber as integer) as line_number,
        cast(l_quantity as decimal(15, 2)) as quantity,
        cast(l_extendedprice as decimal(15, 2)) as extended_price,
        cast(l_discount as decimal(15, 2)) as discount
    from source

)

select * from final
