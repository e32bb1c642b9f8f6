{#
    Fails for every row where the boolean SQL `expression` is not true (false or null): row-level
    invariants such as `net_revenue <= gross_revenue`. Null counts as a failure on purpose, so a
    null creeping into a money column cannot make an invariant pass silently.
#}
{% test expression_is_true(model, expression) %}

select *

from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
