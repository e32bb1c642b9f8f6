with

source as (

    select * from {{ source('salesforce', 'contact') }}

),

final as (

    select

        ---------- ids
        cast(Id as varchar) as contact_id,
        cast(AccountId as varchar) as account_id,

        ---------- text
        cast(FirstName as varchar) as first_name,
        cast(LastName as varchar) as last_name,
        lower(cast(Email as varchar)) as email,
        cast(LeadSource as varchar) as lead_source,
        cast(MailingCountry as varchar) as mailing_country,

        ---------- booleans
        cast(HasOptedOutOfEmail as boolean) as has_opted_out_of_email,
        cast(IsDeleted as boolean) as is_deleted,

        ---------- timestamps
        cast(CreatedDate as timestamp with time zone) as created_at,
        cast(SystemModstamp as timestamp with time zone) as modified_at,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
