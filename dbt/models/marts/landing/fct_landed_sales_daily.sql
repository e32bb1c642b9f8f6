-- One row per order date of the landed sales files: orders, lines and net revenue.
with

orders as (

    select * from {{ ref('stg_landing__orders') }}

),

lines as (

    select
        order_key,
        count(*) as line_count,
        sum(extended_price * (1 - discount)) as net_revenue
    from {{ ref('stg_landing__lineitem') }}
    group by order_key

),

final as (

    select
        orders.order_date,
        count(*) as order_count,
        coalesce(sum(lines.line_count), 0) as line_count,
        coalesce(sum(lines.net_revenue), 0) as net_revenue
    from orders
    left join lines on lines.order_key = orders.order_key
    group by orders.order_date

)

select * from final
