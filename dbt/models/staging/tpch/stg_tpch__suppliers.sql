with

source as (

    select * from {{ source('tpch', 'supplier') }}{{ live_rows(source('tpch', 'supplier')) }}

),

final as (

    select

        ---------- ids
        cast(s_suppkey as bigint) as supplier_id,
        cast(s_nationkey as bigint) as nation_id,

        ---------- text
        trim(cast(s_name as varchar)) as supplier_name,
        cast(s_address as varchar) as supplier_address,
        trim(cast(s_phone as varchar)) as phone_number,
        cast(s_comment as varchar) as supplier_comment,

        ---------- numerics
        cast(s_acctbal as decimal(15, 2)) as account_balance,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
