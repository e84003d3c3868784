{#- Candles of the lake, renamed, unique on (market, symbol, interval, open_at):
    see binance_stage_klines. -#}
{{ binance_stage_klines('klines') }}
