-- Live opportunities with their account; deleted records (IsDeleted) are left out.
with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where not is_deleted

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.account_id,
        accounts.account_name,
        accounts.industry,
        opportunities.opportunity_name,
        opportunities.stage_name,
        opportunities.amount,
        opportunities.probability_percent,
        opportunities.amount * opportunities.probability_percent / 100 as expected_amount,
        opportunities.is_closed,
        opportunities.is_won,
        opportunities.close_date,
        opportunities.created_at,
        opportunities.modified_at
    from opportunities
    -- The account may be deleted while its opportunities are not: keep them, without a name.
    left join accounts on opportunities.account_id = accounts.account_id

)

select * from final
