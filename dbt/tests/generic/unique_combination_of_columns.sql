{#
    Fails for every combination of the given columns that occurs more than once: the primary-key
    test for tables keyed on several columns (partsupp, lineitem). Written here rather than taken
    from dbt_utils so the project has no packages and `dbt build` needs no network.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as occurrences

from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
