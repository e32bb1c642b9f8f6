with

orders as (

    select * from {{ ref('stg_tpch__orders') }}

),

line_items as (

    select * from {{ ref('int_line_items_priced') }}

),

order_line_items_summary as (

    select
        order_id,

        count(*) as line_item_count,
        count(case when is_shipped then 1 end) as shipped_line_item_count,
        count(case when is_returned then 1 end) as returned_line_item_count,
        sum(quantity) as total_quantity,
        sum(extended_price) as gross_revenue,
        sum(discount_amount) as discount_amount,
        sum(net_revenue) as net_revenue,
        sum(tax_amount) as tax_amount,
        sum(charge_amount) as total_charge,
        min(ship_date) as first_ship_date,
        max(ship_date) as last_ship_date

    from line_items
    group by order_id

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.order_status,
        orders.order_priority,
        orders.clerk_name,
        orders.ship_priority,
        orders.total_price,

        -- An order without lines (not possible in TPC-H, possible mid-load) counts as zero, not null.
        coalesce(order_line_items_summary.line_item_count, 0) as line_item_count,
        coalesce(order_line_items_summary.shipped_line_item_count, 0) as shipped_line_item_count,
        coalesce(order_line_items_summary.returned_line_item_count, 0) as returned_line_item_count,
        coalesce(order_line_items_summary.total_quantity, 0) as total_quantity,
        coalesce(order_line_items_summary.gross_revenue, 0) as gross_revenue,
        coalesce(order_line_items_summary.discount_amount, 0) as discount_amount,
        coalesce(order_line_items_summary.net_revenue, 0) as net_revenue,
        coalesce(order_line_items_summary.tax_amount, 0) as tax_amount,
        coalesce(order_line_items_summary.total_charge, 0) as total_charge,
        order_line_items_summary.first_ship_date,
        order_line_items_summary.last_ship_date,

        orders.is_fulfilled,
        coalesce(order_line_items_summary.returned_line_item_count, 0) > 0 as has_returned_items

    from orders
    left join order_line_items_summary
        on orders.order_id = order_line_items_summary.order_id

)

select * from final
