{#
    Prices every order line the TPC-H way: the discount comes off the extended price first, tax is
    charged on what remains. All amounts stay exact decimals; nothing is rounded here, so marts can
    sum them and round once.
#}

with

line_items as (

    select * from {{ ref('stg_tpch__line_items') }}

),

priced as (

    select
        *,
        extended_price * discount_rate as discount_amount,
        extended_price * (1 - discount_rate) as net_revenue

    from line_items

),

final as (

    select
        *,
        net_revenue * tax_rate as tax_amount,
        net_revenue * (1 + tax_rate) as charge_amount

    from priced

)

select * from final
