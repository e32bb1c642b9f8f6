{#
    Net revenue must survive every join on its way to the marts: the line items, the order facts
    and the customer dimension all add up to the same total. A fan-out (duplicated join key) or a
    dropped row shows up here as a difference. Returns one row, naming the totals, when they differ.
#}

with

line_items as (

    select sum(net_revenue) as net_revenue from {{ ref('int_line_items_priced') }}

),

orders as (

    select sum(net_revenue) as net_revenue from {{ ref('fct_orders') }}

),

customers as (

    select sum(lifetime_net_revenue) as net_revenue from {{ ref('dim_customers') }}

),

final as (

    select
        line_items.net_revenue as line_items_net_revenue,
        orders.net_revenue as orders_net_revenue,
        customers.net_revenue as customers_net_revenue

    from line_items
    cross join orders
    cross join customers

)

select * from final
where line_items_net_revenue is distinct from orders_net_revenue
    or line_items_net_revenue is distinct from customers_net_revenue

