with

customers as (

    select * from {{ ref('stg_tpch__customers') }}

),

nations as (

    select * from {{ ref('stg_tpch__nations') }}

),

regions as (

    select * from {{ ref('stg_tpch__regions') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_orders_summary as (

    select
        customer_id,

        count(*) as order_count,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        sum(net_revenue) as lifetime_net_revenue

    from orders
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.customer_address,
        customers.phone_number,
        customers.market_segment,
        customers.account_balance,

        customers.nation_id,
        nations.nation_name,
        nations.region_id,
        regions.region_name,

        -- TPC-H leaves every third customer without orders: they stay, with zero counts.
        coalesce(customer_orders_summary.order_count, 0) as order_count,
        customer_orders_summary.first_order_date,
        customer_orders_summary.last_order_date,
        coalesce(customer_orders_summary.lifetime_net_revenue, 0) as lifetime_net_revenue,
        customer_orders_summary.customer_id is not null as has_orders

    from customers
    inner join nations
        on customers.nation_id = nations.nation_id
    inner join regions
        on nations.region_id = regions.region_id
    left join customer_orders_summary
        on customers.customer_id = customer_orders_summary.customer_id

)

select * from final
