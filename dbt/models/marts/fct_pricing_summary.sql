{#
    TPC-H Q1 (pricing summary report): line items shipped up to 1998-12-01 minus
    `pricing_summary_delta_days` days, summed by return flag and line status.
#}

{%- set delta_days = var('pricing_summary_delta_days') -%}
{%- if delta_days is not integer or delta_days < 0 -%}
    {{ exceptions.raise_compiler_error(
        "var pricing_summary_delta_days must be a non-negative whole number of days (TPC-H uses 60 to 120), got: " ~ delta_days
    ) }}
{%- endif %}

with

line_items as (

    select * from {{ ref('int_line_items_priced') }}

),

report_parameters as (

    select
        cast({{ dbt.dateadd('day', -delta_days, "cast('1998-12-01' as date)") }} as date)
            as ship_date_cutoff

),

shipped_line_items as (

    select
        line_items.*,
        report_parameters.ship_date_cutoff

    from line_items
    cross join report_parameters
    where line_items.ship_date <= report_parameters.ship_date_cutoff

),

final as (

    select
        return_flag,
        line_status,
        ship_date_cutoff,

        sum(quantity) as sum_quantity,
        sum(extended_price) as sum_base_price,
        sum(net_revenue) as sum_discounted_price,
        sum(charge_amount) as sum_charge,
        avg(quantity) as avg_quantity,
        avg(extended_price) as avg_extended_price,
        avg(discount_rate) as avg_discount_rate,
        count(*) as line_item_count

    from shipped_line_items
    group by return_flag, line_status, ship_date_cutoff

)

select * from final
