{#- Trailing windows over calendar days, for the daily feature tables. -#}
{% macro binance_calendar_days(first_days_back, last_days_back=0) -%}
    {#- A window over each series' calendar days (its day_number column, binance_day_number), from
        `first_days_back` days before the row's day to `last_days_back` days before it (0: the row's own
        day). A missing day is a gap in the frame, not the row before it, so a feature can require
        every day of its window (count = window length). -#}
    partition by market, symbol order by day_number
    range between {{ first_days_back }} preceding
    and {{ 'current row' if last_days_back == 0 else last_days_back ~ ' preceding' }}
{%- endmacro %}
