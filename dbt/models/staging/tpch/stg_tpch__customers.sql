with

source as (

    select * from {{ source('tpch', 'customer') }}{{ live_rows(source('tpch', 'customer')) }}

),

final as (

    select

        ---------- ids
        cast(c_custkey as bigint) as customer_id,
        cast(c_nationkey as bigint) as nation_id,

        ---------- text
        trim(cast(c_name as varchar)) as customer_name,
        cast(c_address as varchar) as customer_address,
        trim(cast(c_phone as varchar)) as phone_number,
        trim(cast(c_mktsegment as varchar)) as market_segment,
        cast(c_comment as varchar) as customer_comment,

        ---------- numerics
        cast(c_acctbal as decimal(15, 2)) as account_balance,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
