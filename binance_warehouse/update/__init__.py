"""`binance-warehouse update` (docs/operations.md): load every configured series, build, export,
refresh the dashboards, check freshness per series, record the run and alert.

One concern per module: `config` (warehouse.toml and its contract), `freshness` (the publishing rule),
`runs` (run records), `alerts` (apprise), `steps` (the commands a run executes), `command` (the CLI)."""
