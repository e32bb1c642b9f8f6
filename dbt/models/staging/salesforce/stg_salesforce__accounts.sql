with

source as (

    select * from {{ source('salesforce', 'account') }}

),

final as (

    select

        ---------- ids
        cast(Id as varchar) as account_id,
        cast(OwnerId as varchar) as owner_id,

        ---------- text
        cast(Name as varchar) as account_name,
        cast(Type as varchar) as account_type,
        cast(Industry as varchar) as industry,
        cast(Rating as varchar) as rating,
        cast(BillingCity as varchar) as billing_city,
        cast(BillingCountry as varchar) as billing_country,

        ---------- numerics
        cast(AnnualRevenue as decimal(18, 2)) as annual_revenue,
        cast(NumberOfEmployees as bigint) as number_of_employees,

        ---------- booleans
        cast(IsDeleted as boolean) as is_deleted,

        ---------- timestamps
        cast(CreatedDate as timestamp with time zone) as created_at,
        cast(SystemModstamp as timestamp with time zone) as modified_at,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from source

)

select * from final
