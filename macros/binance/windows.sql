{#- Trailing windows over calendar days or hours, for the daily and hourly feature tables. -#}
{% macro binance_calendar_days(first_days_back, last_days_back=0) -%}
    {#- A window over each series' calendar days (its day_number column, binance_day_number), from
        `first_days_back` days before the row's day to `last_days_back` days before it (0: the row's own
        day). A missing day is a gap in the frame, not the row before it, so a feature can require
        every day of its window (count = window length). -#}
    {{- binance_trailing_units(first_days_back, last_days_back, 'day_number') -}}
{%- endmacro %}


{% macro binance_trailing_units(first_back, last_back=0, number_column='day_number') -%}
    {#- A window over each series' time units numbered by `number_column` (day_number, or hour_number of
        binance_hour_number), from `first_back` units before the row's to `last_back` before it (0: the
        row's own): a missing unit is a gap in the frame, so a feature can require every unit of its
        window (count = window length). -#}
    partition by market, symbol order by {{ number_column }}
    range between {{ first_back }} preceding
    and {{ 'current row' if last_back == 0 else last_back ~ ' preceding' }}
{%- endmacro %}
