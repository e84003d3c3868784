{#- What a plausible lake row is, per dataset (docs/failure-contract.md, "Plausibility"):
    the generic test plausible_lake_rows checks these on the lake's recent months. Each check is a
    boolean SQL condition on the dataset's source columns that must hold (null passes: missing values
    are the not-null tests' business) and the value shown when it fails. -#}

{% macro binance_is_finite(value) -%}
    {#- Neither infinite nor NaN (both engines order NaN above +infinity). -#}
    ({{ value }} > cast('-infinity' as double) and {{ value }} < cast('infinity' as double))
{%- endmacro %}


{% macro binance_row_time_column(table_name) -%}
    {{- return({'funding_rate': 'funding_time', 'metrics': 'metric_time', 'agg_trades': 'transact_time'}
        .get(table_name, 'open_time')) -}}
{%- endmacro %}


{% macro binance_plausibility_checks(table_name) -%}
    {%- set checks = [] -%}
    {%- set kline_prices = ['open', 'high', 'low', 'close'] -%}
    {%- set kline_amounts = ['volume', 'quote_volume', 'taker_buy_base_volume', 'taker_buy_quote_volume', 'trade_count'] -%}
    {%- if table_name in ('klines', 'mark_price_klines', 'index_price_klines', 'premium_index_klines') -%}
        {%- for column in kline_prices -%}
            {%- if table_name == 'premium_index_klines' -%}
                {#- A premium is a fraction of the index: negative whenever the perpetual trades below it. -#}
                {%- do checks.append({'label': column ~ ' is not finite', 'holds': binance_is_finite(column), 'value': column}) -%}
            {%- else -%}
                {%- do checks.append({'label': column ~ ' is not a positive finite price',
                    'holds': column ~ ' > 0 and ' ~ binance_is_finite(column), 'value': column}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for column in kline_amounts -%}
            {%- do checks.append({'label': column ~ ' is negative or not finite',
                'holds': column ~ ' >= 0 and ' ~ binance_is_finite(column), 'value': column}) -%}
        {%- endfor -%}
    {%- elif table_name == 'funding_rate' -%}
        {%- do checks.append({'label': 'funding_rate is not finite', 'holds': binance_is_finite('funding_rate'), 'value': 'funding_rate'}) -%}
        {%- do checks.append({'label': 'funding_interval_hours is not positive',
            'holds': 'funding_interval_hours > 0', 'value': 'funding_interval_hours'}) -%}
    {%- elif table_name == 'metrics' -%}
        {%- for column in ['open_interest', 'open_interest_value', 'top_trader_account_ratio',
            'top_trader_position_ratio', 'account_ratio', 'taker_buy_sell_ratio'] -%}
            {%- do checks.append({'label': column ~ ' is negative or not finite',
                'holds': column ~ ' >= 0 and ' ~ binance_is_finite(column), 'value': column}) -%}
        {%- endfor -%}
    {%- elif table_name == 'agg_trades' -%}
        {%- do checks.append({'label': 'price is not a positive finite price',
            'holds': 'price > 0 and ' ~ binance_is_finite('price'), 'value': 'price'}) -%}
        {%- do checks.append({'label': 'quantity is negative or not finite',
            'holds': 'quantity >= 0 and ' ~ binance_is_finite('quantity'), 'value': 'quantity'}) -%}
        {%- do checks.append({'label': 'first_trade_id > last_trade_id',
            'holds': 'first_trade_id <= last_trade_id',
            'value': "cast(first_trade_id as string) || ' > ' || cast(last_trade_id as string)"}) -%}
    {%- endif -%}
    {%- set time_column = binance_row_time_column(table_name) -%}
    {%- do checks.append({'label': time_column ~ " is outside the file's month partition",
        'holds': 'substr(cast(' ~ time_column ~ ' as string), 1, 7) = ' ~ adapter.quote('month'),
        'value': time_column}) -%}
    {{- return(checks) -}}
{%- endmacro %}
