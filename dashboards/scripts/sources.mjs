// `npm run sources`: read the warehouse READ-ONLY (the file dbt builds, ./warehouse.duckdb at the
// repository root, or $DUCKDB_PATH: a relative path is taken from where npm was run, as dbt takes it)
// and write the small JSON files the pages read into src/data/ (gitignored). This is the only step
// that opens the DuckDB file: it selects just the columns each page shows, closes the file and exits,
// so a `dbt build` (a writer) can run right after it. `npm run build` then reads src/data/ only.
//
// DuckDB here is @duckdb/node-api pinned to the warehouse's own DuckDB version (1.5.5, like the
// Python `duckdb==1.5.5` that dbt writes with), so the storage format always matches.
//
// The derivatives and coverage marts (and the leverage columns of fct_regime_features_daily) are
// optional: a warehouse built before they existed lacks them; the manifest says so and the pages say
// "not in this warehouse yet" instead of failing.

import { mkdir, rm, writeFile, rename } from "node:fs/promises";
import { existsSync, statSync } from "node:fs";
import { dirname, join, basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, "..", "src", "data");
const REPO_ROOT = resolve(HERE, "..", "..");
const REQUIRED = ["fct_regime_features_daily"];

/**
 * Runs of consecutive calendar days with the same `values` per series (gaps and islands: a day minus
 * its rank within (series, values) is constant along a run). The one place runs are computed: the
 * regime strip, the coverage heat map and the coverage page's problem ranges all come from it.
 * @param {string} from  a relation with the key and value columns and trade_date
 * @param {string} keys  the series columns, comma-separated
 * @param {string} values  the columns a run keeps constant, comma-separated
 * @param {string} extra  more aggregates over the run's days, each followed by a comma
 */
function runsSql(from, keys, values, extra = "") {
  return `
    select ${keys}, ${values},
      strftime(min(trade_date), '%Y-%m-%d') as start, strftime(max(trade_date), '%Y-%m-%d') as "end",
      ${extra} count(*)::integer as days
    from (
      select *,
        trade_date - (row_number() over (partition by ${keys}, ${values} order by trade_date))::integer as run_id
      from ${from}
    )
    group by ${keys}, ${values}, run_id
    order by ${keys}, start`;
}

function fail(message) {
  console.error(`sources: ${message}`);
  process.exit(1);
}

// npm runs scripts in dashboards/; INIT_CWD is where the user typed the command (dbt's cwd too).
const duckdbPath = process.env.DUCKDB_PATH
  ? resolve(process.env.INIT_CWD ?? process.cwd(), process.env.DUCKDB_PATH)
  : join(REPO_ROOT, "warehouse.duckdb");
if (!existsSync(duckdbPath) || !statSync(duckdbPath).isFile())
  fail(`no DuckDB file at ${duckdbPath} (run dbt build first, or set DUCKDB_PATH to the warehouse file)`);

const started = performance.now();
// READ_ONLY: a shared lock only (other readers welcome), dropped at closeSync() below; a writer
// holding the file makes this fail at once. No extension autoloading (nothing may be fetched), no
// file access from SQL beyond the database itself.
let instance;
try {
  instance = await DuckDBInstance.create(resolve(duckdbPath), {
    access_mode: "READ_ONLY",
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
    enable_external_access: "false",
    threads: "2",
  });
} catch (error) {
  fail(`cannot open ${duckdbPath} read-only: ${error.message}`);
}
const con = await instance.connect();

async function rows(sql) {
  const reader = await con.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}

/** Stream `sql` (ordered by market, symbol) and call `write(market, symbol, rows)` once per series. */
async function perSeries(sql, write) {
  const result = await con.stream(sql);
  let key = null;
  let batch = [];
  let count = 0;
  for await (const chunk of result.yieldRowObjectJson()) {
    for (const row of chunk) {
      const k = `${row.market}\u0000${row.symbol}`;
      if (k !== key && batch.length) {
        await write(batch[0].market, batch[0].symbol, batch);
        count += 1;
        batch = [];
      }
      key = k;
      batch.push(row);
    }
  }
  if (batch.length) {
    await write(batch[0].market, batch[0].symbol, batch);
    count += 1;
  }
  return count;
}

async function writeJson(relPath, value) {
  const path = join(TMP, relPath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}

/** Rows of one series -> {column: [values…]} without market and symbol: half the size of rows. */
function columns(batch) {
  const names = Object.keys(batch[0]).filter((n) => n !== "market" && n !== "symbol");
  return Object.fromEntries(names.map((n) => [n, batch.map((r) => r[n])]));
}

function safeName(s) {
  if (!/^[A-Za-z0-9_.-]+$/.test(s)) throw new Error(`unexpected market or symbol name: ${JSON.stringify(s)}`);
  return s;
}

// Write into a fresh temp folder, then swap it in: a failed run leaves the previous data intact.
const TMP = `${OUT}.tmp-${process.pid}`;
let failed = null;
try {
  await rm(TMP, { recursive: true, force: true });
  await mkdir(TMP, { recursive: true });

  const tables = new Set(
    (await rows("select table_name from information_schema.tables where table_schema = 'main'")).map(
      (r) => r.table_name
    )
  );
  for (const t of REQUIRED) if (!tables.has(t)) throw new Error(`table main.${t} not found in ${duckdbPath}`);
  const featureColumns = new Set(
    (
      await rows(
        "select column_name from information_schema.columns " +
          "where table_schema = 'main' and table_name = 'fct_regime_features_daily'"
      )
    ).map((r) => r.column_name)
  );
  const has = {
    fct_derivatives_daily: tables.has("fct_derivatives_daily"),
    fct_coverage_daily: tables.has("fct_coverage_daily"),
    leverage_regime: featureColumns.has("leverage_regime"),
  };

  // --- Overview: one row per series, its latest day --------------------------------------------------
  const leverage = has.leverage_regime ? "leverage_regime" : "null::varchar";
  const overview = await rows(`
    select market, symbol,
      strftime(first_date, '%Y-%m-%d') as first_date,
      strftime(trade_date, '%Y-%m-%d') as latest_date,
      days, close_price, regime, leverage_regime,
      round(volatility_30d, 6) as volatility_30d, round(rsi_14, 3) as rsi_14
    from (
      select market, symbol, trade_date, close_price, regime, ${leverage} as leverage_regime,
        volatility_30d, rsi_14,
        min(trade_date) over s as first_date, (count(*) over s)::integer as days
      from fct_regime_features_daily
      window s as (partition by market, symbol)
      qualify row_number() over (partition by market, symbol order by trade_date desc) = 1
    )
    order by market, symbol`);
  await writeJson("overview.json", overview);

  // --- Regime timeline: per series, close + regime + volatility_30d + RSI-14 -------------------------
  const regimeSeries = [];
  await perSeries(
    `select market, symbol, strftime(trade_date, '%Y-%m-%d') as trade_date, close_price, regime,
        round(volatility_30d, 6) as volatility_30d, round(rsi_14, 3) as rsi_14
     from fct_regime_features_daily order by market, symbol, trade_date`,
    async (market, symbol, batch) => {
      regimeSeries.push({ market, symbol });
      await writeJson(
        `regimes/${safeName(market)}/${safeName(symbol)}.json`,
        columns(batch)
      );
    }
  );

  // Regime runs (consecutive days in the same regime) of every series: the strip on /regimes/.
  const regimeRuns = await rows(
    runsSql(
      "(select market, symbol, trade_date, coalesce(regime, 'unclassified') as regime from fct_regime_features_daily)",
      "market, symbol",
      "regime"
    )
  );
  await writeJson("regime_runs.json", regimeRuns);

  // --- Regime probabilities (docs/regimes.md): each day's filtered probability per volatility state,
  // per series, and each series' most likely state on its latest day with one. Optional: a warehouse
  // built before the model (or a series too short for a fit) has none; the pages say so.
  has.fct_regime_probabilities_daily =
    tables.has("fct_regime_probabilities_daily") && featureColumns.has("vol_state");
  const probabilitySeries = [];
  let probabilityLatest = [];
  if (has.fct_regime_probabilities_daily) {
    probabilityLatest = await rows(`
      select market, symbol, strftime(trade_date, '%Y-%m-%d') as trade_date, vol_state,
        round(vol_state_probability, 4) as vol_state_probability,
        round(turbulent_probability, 4) as turbulent_probability
      from fct_regime_features_daily
      where vol_state is not null
      qualify row_number() over (partition by market, symbol order by trade_date desc) = 1
      order by market, symbol`);
    await perSeries(
      `select market, symbol, strftime(trade_date, '%Y-%m-%d') as trade_date, state, state_name,
          round(probability, 5) as probability
       from fct_regime_probabilities_daily order by market, symbol, trade_date, state`,
      async (market, symbol, batch) => {
        probabilitySeries.push({ market, symbol });
        await writeJson(`regime_probabilities/${safeName(market)}/${safeName(symbol)}.json`, columns(batch));
      }
    );
  }
  await writeJson("regime_probabilities_latest.json", probabilityLatest);

  // --- Derivatives: funding (annualized, 7-day mean), open interest, basis ---------------------------
  // The 7-day mean is the warehouse's own (fct_regime_features_daily.funding_rate_7d_annualized), not
  // recomputed here; a warehouse without that column shows the daily funding only.
  const derivativesSeries = [];
  let derivativesLatest = [];
  if (has.fct_derivatives_daily) {
    const funding7d = featureColumns.has("funding_rate_7d_annualized")
      ? "max(funding_rate_7d_annualized)"
      : "null::double";
    // A features row carries the 7-day funding of its futures market (derivatives_market: a spot
    // series carries its um perpetual's), so a um series without um candles still has its mean.
    const futuresMarket = featureColumns.has("derivatives_market") ? "derivatives_market" : "market";
    const perDay = `
      select d.market, d.symbol, d.trade_date, d.funding_rate_annualized,
        f.funding_7d_annualized, d.open_interest, d.open_interest_value, d.basis
      from fct_derivatives_daily as d
      left join (
        select ${futuresMarket} as market, symbol, trade_date,
          ${funding7d} as funding_7d_annualized
        from fct_regime_features_daily group by all
      ) as f using (market, symbol, trade_date)`;
    derivativesLatest = await rows(`
      select market, symbol, strftime(trade_date, '%Y-%m-%d') as trade_date,
        funding_7d_annualized, open_interest_value, basis
      from (${perDay})
      qualify row_number() over (partition by market, symbol order by trade_date desc) = 1
      order by market, symbol`);
    // Which measures each series has at all: a chart with none shows its own empty state.
    const measures = await rows(`
      select market, symbol,
        count(funding_rate_annualized)::integer as funding_days,
        count(open_interest_value)::integer as open_interest_days,
        count(basis)::integer as basis_days
      from fct_derivatives_daily group by all`);
    const measuresOf = new Map(measures.map((m) => [`${m.market}/${m.symbol}`, m]));
    await perSeries(
      `select market, symbol, strftime(trade_date, '%Y-%m-%d') as trade_date,
          funding_rate_annualized, funding_7d_annualized, open_interest, open_interest_value, basis
       from (${perDay})
       order by market, symbol, trade_date`,
      async (market, symbol, batch) => {
        const m = measuresOf.get(`${market}/${symbol}`);
        derivativesSeries.push({
          market,
          symbol,
          funding_days: m.funding_days,
          open_interest_days: m.open_interest_days,
          basis_days: m.basis_days,
        });
        await writeJson(
          `derivatives/${safeName(market)}/${safeName(symbol)}.json`,
          columns(batch)
        );
      }
    );
  }

  await writeJson("derivatives_latest.json", derivativesLatest);

  // --- Coverage: runs of consecutive days with the same status and known reason per series ---------
  // The heat map draws every run; the problem table lists the runs that are not complete.
  let coverage = { runs: [], series: [] };
  if (has.fct_coverage_daily) {
    const series = `market, dataset, "interval", symbol`;
    coverage.runs = await rows(
      runsSql(
        `(select ${series}, trade_date, status, known_reason, rows_present, rows_expected from fct_coverage_daily)`,
        series,
        "status, known_reason",
        "sum(rows_present)::double as rows_present, sum(rows_expected)::double as rows_expected,"
      )
    );
    coverage.series = await rows(`
      select ${series},
        strftime(min(trade_date), '%Y-%m-%d') as first_date, strftime(max(trade_date), '%Y-%m-%d') as last_date,
        (count(*) filter (where status = 'complete'))::integer as complete,
        (count(*) filter (where status = 'incomplete'))::integer as incomplete,
        (count(*) filter (where status = 'missing'))::integer as missing
      from fct_coverage_daily group by all order by ${series}`);
  }
  await writeJson("coverage.json", coverage);

  const latest = (await rows("select strftime(max(trade_date), '%Y-%m-%d') as d from fct_regime_features_daily"))[0].d;
  // The per-series files, for the pages' dropdowns: Framework copies a file into the site only when
  // a FileAttachment names it literally, and a page then fetches only the one it shows.
  const attachments = (section, list) =>
    list.map(({ market, symbol }) => {
      const key = `${safeName(market)}/${safeName(symbol)}`;
      return `  [${JSON.stringify(key)}, FileAttachment(${JSON.stringify(`./${section}/${key}.json`)})],`;
    });
  await writeFile(
    join(TMP, "series.js"),
    [
      "// Written by `npm run sources`: every per-series data file, by \"market/symbol\".",
      'import { FileAttachment } from "observablehq:stdlib";',
      "export const regimeFiles = new Map([",
      ...attachments("regimes", regimeSeries),
      "]);",
      "export const regimeProbabilityFiles = new Map([",
      ...attachments("regime_probabilities", probabilitySeries),
      "]);",
      "export const derivativesFiles = new Map([",
      ...attachments("derivatives", derivativesSeries),
      "]);",
      "",
    ].join("\n")
  );

  await writeJson("manifest.json", {
    generated_at: new Date().toISOString(),
    warehouse: basename(duckdbPath),
    latest_date: latest,
    has,
    regime_series: regimeSeries,
    derivatives_series: derivativesSeries,
    probability_series: probabilitySeries,
  });

  await rm(OUT, { recursive: true, force: true });
  await rename(TMP, OUT);
  console.log(
    `sources: ${regimeSeries.length} regime series, ${derivativesSeries.length} derivatives series, ` +
      `coverage ${has.fct_coverage_daily ? `${coverage.series.length} series` : "absent"}, ` +
      `latest ${latest} -> ${OUT} in ${((performance.now() - started) / 1000).toFixed(1)}s`
  );
} catch (error) {
  failed = error;
} finally {
  // Close the file before anything else happens: the next command may be a DuckDB writer.
  con.closeSync();
  instance.closeSync();
  if (failed) await rm(TMP, { recursive: true, force: true });
}
if (failed) fail(failed.stack ?? String(failed));
