with

source as (

    select * from {{ source('tpch', 'lineitem') }}{{ live_rows(source('tpch', 'lineitem')) }}

),

renamed as (

    select

        ---------- ids
        cast(l_orderkey as bigint) as order_id,
        cast(l_linenumber as integer) as line_number,
        cast(l_partkey as bigint) as part_id,
        cast(l_suppkey as bigint) as supplier_id,

        ---------- numerics
        cast(l_quantity as decimal(15, 2)) as quantity,
        cast(l_extendedprice as decimal(15, 2)) as extended_price,
        -- fractions (0.05 = 5 %), not percentages
        cast(l_discount as decimal(15, 2)) as discount_rate,
        cast(l_tax as decimal(15, 2)) as tax_rate,

        ---------- text
        trim(cast(l_returnflag as varchar)) as return_flag,
        trim(cast(l_linestatus as varchar)) as line_status,
        trim(cast(l_shipinstruct as varchar)) as ship_instructions,
        trim(cast(l_shipmode as varchar)) as ship_mode,
        cast(l_comment as varchar) as line_item_comment,

        ---------- dates and timestamps
        cast(l_shipdate as date) as ship_date,
        cast(l_commitdate as date) as commit_date,
        cast(l_receiptdate as date) as receipt_date,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

),

final as (

    select
        *,

        ---------- booleans
        return_flag = 'R' as is_returned,
        line_status = 'F' as is_shipped,
        receipt_date > commit_date as is_received_late

    from renamed

)

select * from final
