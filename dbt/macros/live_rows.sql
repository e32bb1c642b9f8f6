{#-
    `where _deleted_at is null` for a raw table in which the ingestion worker marks rows deleted at
    the source (python/ingest: a full merge with `--deletes soft`, the default), so staging models
    read only live rows; nothing for a table without that column (replace and append loads, or
    `--deletes hard|ignore`). The columns are read from the warehouse when the model runs.

    Usage, in a staging model's source CTE:
        select * from {{ source('tpch', 'orders') }} {{ live_rows(source('tpch', 'orders')) }}
-#}
{% macro live_rows(relation) %}
    {%- if execute -%}
        {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- if '_deleted_at' in names %} where _deleted_at is null{% endif -%}
    {%- endif -%}
{% endmacro %}
