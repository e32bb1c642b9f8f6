with

source as (

    select * from {{ source('tpch', 'partsupp') }}{{ live_rows(source('tpch', 'partsupp')) }}

),

final as (

    select

        ---------- ids
        cast(ps_partkey as bigint) as part_id,
        cast(ps_suppkey as bigint) as supplier_id,

        ---------- numerics
        cast(ps_availqty as integer) as available_quantity,
        cast(ps_supplycost as decimal(15, 2)) as supply_cost,

        ---------- text
        cast(ps_comment as varchar) as part_supplier_comment,

        ---------- timestamps
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
