with

source as (

    select * from {{ source('salesforce', 'opportunity') }}

),

final as (

    select

        ---------- ids
        cast(Id as varchar) as opportunity_id,
        cast(AccountId as varchar) as account_id,

        ---------- text
        cast(Name as varchar) as opportunity_name,
        cast(StageName as varchar) as stage_name,

        ---------- numerics
        cast(Amount as decimal(18, 2)) as amount,
        -- Salesforce percent fields hold 0-100, not 0-1.
        cast(Probability as decimal(5, 2)) as probability_percent,

        ---------- booleans
        cast(IsClosed as boolean) as is_closed,
        cast(IsWon as boolean) as is_won,
        cast(IsDeleted as boolean) as is_deleted,

        ---------- dates and timestamps
        cast(CloseDate as date) as close_date,
        cast(CreatedDate as timestamp with time zone) as created_at,
        cast(SystemModstamp as timestamp with time zone) as modified_at,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
