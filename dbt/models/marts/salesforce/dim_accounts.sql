-- Live accounts with their contacts and pipeline rolled up; deleted records are left out.
with

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted

),

contacts as (

    select account_id, count(*) as contact_count
    from {{ ref('stg_salesforce__contacts') }}
    where not is_deleted and account_id is not null
    group by account_id

),

opportunities as (

    select
        account_id,
        count(*) as opportunity_count,
        count(*) filter (where not is_closed) as open_opportunity_count,
        coalesce(sum(amount) filter (where not is_closed), 0) as open_pipeline_amount,
        coalesce(sum(amount) filter (where is_won), 0) as won_amount
    from {{ ref('fct_opportunities') }}
    group by account_id

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.account_type,
        accounts.industry,
        accounts.billing_country,
        accounts.annual_revenue,
        accounts.number_of_employees,
        coalesce(contacts.contact_count, 0) as contact_count,
        coalesce(opportunities.opportunity_count, 0) as opportunity_count,
        coalesce(opportunities.open_opportunity_count, 0) as open_opportunity_count,
        coalesce(opportunities.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(opportunities.won_amount, 0) as won_amount,
        accounts.created_at,
        accounts.modified_at
    from accounts
    left join contacts on accounts.account_id = contacts.account_id
    left join opportunities on accounts.account_id = opportunities.account_id

)

select * from final
