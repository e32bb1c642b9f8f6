{#
    TPC-H Q5 (local supplier volume) for every nation and year: revenue from order lines where the
    customer and the supplier are in the same nation. Q5 itself is this model filtered to one
    region and one year, e.g. region_name = 'ASIA' and order_year = 1994.
#}

with

line_items as (

    select * from {{ ref('int_line_items_priced') }}

),

orders as (

    select * from {{ ref('stg_tpch__orders') }}

),

customers as (

    select * from {{ ref('stg_tpch__customers') }}

),

suppliers as (

    select * from {{ ref('stg_tpch__suppliers') }}

),

nations as (

    select * from {{ ref('stg_tpch__nations') }}

),

regions as (

    select * from {{ ref('stg_tpch__regions') }}

),

local_supplier_line_items as (

    select
        customers.nation_id,
        cast(extract(year from orders.order_date) as integer) as order_year,
        line_items.order_id,
        line_items.net_revenue

    from line_items
    inner join orders
        on line_items.order_id = orders.order_id
    inner join customers
        on orders.customer_id = customers.customer_id
    inner join suppliers
        on line_items.supplier_id = suppliers.supplier_id
    -- "local": the supplier ships from the customer's own nation
    where customers.nation_id = suppliers.nation_id

),

nation_years as (

    select
        nation_id,
        order_year,

        sum(net_revenue) as net_revenue,
        count(distinct order_id) as order_count,
        count(*) as line_item_count

    from local_supplier_line_items
    group by nation_id, order_year

),

final as (

    select
        nation_years.nation_id,
        nations.nation_name,
        nations.region_id,
        regions.region_name,
        nation_years.order_year,
        nation_years.net_revenue,
        nation_years.order_count,
        nation_years.line_item_count

    from nation_years
    inner join nations
        on nation_years.nation_id = nations.nation_id
    inner join regions
        on nations.region_id = regions.region_id

)

select * from final
