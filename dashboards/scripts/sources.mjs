// `npm run sources`: read the warehouse READ-ONLY (the file dbt builds, ./warehouse.duckdb at the
// repository root, or $DUCKDB_PATH: a relative path is taken from where npm was run, as dbt takes it)
// and write the small JSON files the pages read into src/data/ (gitignored). This is the only step
// that opens the DuckDB file: it selects just the columns each page shows, closes the file and exits,
// so a `dbt build` (a writer) can run right after it. `npm run build` then reads src/data/ only.
//
// Nothing is computed here: every figure a page shows is a column of a dbt model (the marts, and the
// views of models/marts/dashboards/ made for the pages). NEEDS below says what each page reads; one
// generic reader writes it.
//
// DuckDB here is @duckdb/node-api pinned to the warehouse's own DuckDB version (1.5.5, like the
// Python `duckdb==1.5.5` that dbt writes with), so the storage format always matches.

import { mkdir, readFile, rm, writeFile, rename } from "node:fs/promises";
import { existsSync, statSync } from "node:fs";
import { dirname, join, basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, "..", "src", "data");
const REPO_ROOT = resolve(HERE, "..", "..");

/** A column rounded to `digits` decimals (the pages show fewer; the files stay small). */
const rounded = (name, digits) => ({ name, round: digits });
/** A column a warehouse built before it lacks: read as null there, and manifest.has[name] is false. */
const optionalColumn = (name) => ({ name, optional: true });

// What each page reads, one entry per data file under src/data/:
//   file      "x.json": the rows, a list of objects; "x/": one file per series (ordered by market and
//             symbol first), x/<market>/<symbol>.json = {column: [values…]} without market and symbol,
//             listed in series.js and the manifest under the two names of `series`
//   relation  the table or view of schema main, and `columns` of it (a name, rounded(), optionalColumn())
//   order     the rows' order
//   optional  the relation may be missing (a warehouse built before it): the file is empty, the
//             manifest's has[relation] false, and the page says so; otherwise a missing one fails.
const NEEDS = [
  // Overview (index.md)
  {
    file: "overview.json",
    relation: "dim_regime_series",
    columns: ["market", "symbol", "first_date", "latest_date", "day_count", "close_price", "regime",
      optionalColumn("leverage_regime"), rounded("volatility_30d", 6), rounded("rsi_14", 3)],
    order: "market, symbol",
  },
  {
    file: "regime_probabilities_latest.json",
    relation: "dim_vol_state_series",
    optional: true,
    columns: ["market", "symbol", "trade_date", "vol_state", rounded("vol_state_probability", 4),
      rounded("turbulent_probability", 4)],
    order: "market, symbol",
  },
  // Regime timeline (regimes.md)
  {
    file: "regimes/",
    series: ["regimeFiles", "regime_series"],
    relation: "fct_regime_features_daily",
    columns: ["market", "symbol", "trade_date", "close_price", "regime", rounded("volatility_30d", 6),
      rounded("rsi_14", 3)],
    order: "market, symbol, trade_date",
  },
  {
    file: "regime_probabilities/",
    series: ["regimeProbabilityFiles", "probability_series"],
    relation: "fct_regime_probabilities_daily",
    optional: true,
    columns: ["market", "symbol", "trade_date", "state", "state_name", rounded("probability", 5)],
    order: "market, symbol, trade_date, state",
  },
  {
    file: "regime_runs.json",
    relation: "fct_regime_runs",
    columns: ["market", "symbol", "regime", "start_date", "end_date", "day_count"],
    order: "market, symbol, start_date",
  },
  // Regime spells and transitions of the chosen series (regimes.md)
  {
    file: "regime_spells/",
    series: ["regimeSpellFiles", "regime_spell_series"],
    relation: "fct_regime_spells",
    optional: true,
    columns: ["market", "symbol", "spell_start", "regime", "spell_end", "days", rounded("spell_log_return", 6),
      rounded("max_drawdown", 6), "is_ongoing"],
    order: "market, symbol, spell_start",
  },
  {
    file: "regime_transitions/",
    series: ["regimeTransitionFiles", "regime_transition_series"],
    relation: "fct_regime_transitions",
    optional: true,
    columns: ["market", "symbol", "from_regime", "to_regime", "transitions", rounded("probability", 6)],
    order: "market, symbol, from_regime, to_regime",
  },
  // Derivatives (derivatives.md)
  {
    file: "derivatives/",
    series: ["derivativesFiles", "derivatives_series"],
    relation: "fct_derivatives_series_daily",
    optional: true,
    columns: ["market", "symbol", "trade_date", "funding_rate_annualized", "funding_rate_7d_annualized",
      "open_interest", "open_interest_value", "basis"],
    order: "market, symbol, trade_date",
  },
  {
    file: "derivatives_latest.json",
    relation: "dim_derivatives_series",
    optional: true,
    columns: ["market", "symbol", "latest_date", "funding_rate_7d_annualized", "open_interest_value", "basis",
      "funding_days", "open_interest_days", "basis_days"],
    order: "market, symbol",
  },
  // Coverage (coverage.md)
  {
    file: "coverage_runs.json",
    relation: "fct_coverage_runs",
    optional: true,
    columns: ["market", "dataset", "interval", "symbol", "status", "known_reason", "start_date", "end_date",
      "day_count", "rows_present", "rows_expected"],
    order: 'market, dataset, "interval", symbol, start_date',
  },
  {
    file: "coverage_series.json",
    relation: "dim_coverage_series",
    optional: true,
    columns: ["market", "dataset", "interval", "symbol", "first_date", "last_date", "complete_days",
      "incomplete_days", "missing_days"],
    order: 'market, dataset, "interval", symbol',
  },
  // Market (market.md); its heat map reads regime_runs.json above.
  {
    file: "market_daily.json",
    relation: "fct_market_daily",
    optional: true,
    columns: ["market", "quote_asset", "trade_date", "symbols_present", rounded("breadth_above_sma30", 4),
      rounded("advancers_share", 4), rounded("dispersion", 6), rounded("median_volatility_30d", 6),
      rounded("top_symbol_quote_volume_share", 4), rounded("index_level", 4), "index_regime",
      rounded("index_volatility_30d", 6), rounded("index_trend_30d", 6)],
    order: "market, quote_asset, trade_date",
  },
  {
    file: "market_symbols.json",
    relation: "dim_market_symbols",
    optional: true,
    columns: ["market", "symbol", "quote_asset", "latest_date", "regime", "benchmark_symbol",
      rounded("correlation_30d", 4), rounded("beta_30d", 4), rounded("index_correlation_30d", 4),
      rounded("index_beta_30d", 4), rounded("relative_strength_30d", 4)],
    order: "market, symbol",
  },
];

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

async function rows(sql, params = []) {
  const reader = await con.runAndReadAll(sql, params);
  return reader.getRowObjectsJson();
}

/** Stream `sql` (ordered by market, symbol) and call `write(market, symbol, rows)` once per series. */
async function perSeries(sql, write) {
  const result = await con.stream(sql);
  let key = null;
  let batch = [];
  for await (const chunk of result.yieldRowObjectJson()) {
    for (const row of chunk) {
      const k = `${row.market}\u0000${row.symbol}`;
      if (k !== key && batch.length) {
        await write(batch[0].market, batch[0].symbol, batch);
        batch = [];
      }
      key = k;
      batch.push(row);
    }
  }
  if (batch.length) await write(batch[0].market, batch[0].symbol, batch);
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

const quoted = (name) => `"${name.replaceAll('"', '""')}"`;
// 64-bit integers would arrive as strings in JSON: the counts are read as doubles (exact to 2^53).
const WIDE_INTEGERS = new Set(["BIGINT", "HUGEINT", "UBIGINT", "UHUGEINT"]);

/** The select list of `need`, or the reason it cannot be read; optional columns missing are nulls. */
async function selectList(need, has) {
  const present = new Map(
    (
      await rows(
        "select column_name, data_type from information_schema.columns " +
          "where table_schema = 'main' and table_name = ?",
        [need.relation]
      )
    ).map((r) => [r.column_name, r.data_type])
  );
  if (present.size === 0) return { missing: `main.${need.relation} not found in ${duckdbPath}` };
  const list = [];
  for (const column of need.columns) {
    const { name, round, optional } = typeof column === "string" ? { name: column } : column;
    const type = present.get(name);
    if (optional) has[name] = type !== undefined;
    if (type === undefined) {
      if (!optional) return { missing: `main.${need.relation} has no column ${name}` };
      list.push(`null as ${quoted(name)}`);
      continue;
    }
    let sql = WIDE_INTEGERS.has(type) ? `cast(${quoted(name)} as double)` : quoted(name);
    if (round !== undefined) sql = `round(${sql}, ${round})`;
    list.push(`${sql} as ${quoted(name)}`);
  }
  return { list: list.join(", ") };
}

/** Read `need` into its file(s); returns the series it wrote per-series files for. */
async function read(need, has) {
  const { list, missing } = await selectList(need, has);
  if (missing) {
    if (!need.optional) throw new Error(`${missing} (run dbt build first)`);
    has[need.relation] = false;
  } else if (need.optional) {
    has[need.relation] = true;
  }
  const sql = list && `select ${list} from main.${quoted(need.relation)} order by ${need.order}`;
  if (!need.file.endsWith("/")) {
    await writeJson(need.file, list ? await rows(sql) : []);
    return null;
  }
  const series = [];
  if (list) {
    await perSeries(sql, async (market, symbol, batch) => {
      series.push({ market, symbol });
      await writeJson(`${need.file}${safeName(market)}/${safeName(symbol)}.json`, columns(batch));
    });
  }
  return series;
}

// Write into a fresh temp folder, then swap it in: a failed run leaves the previous data intact.
const TMP = `${OUT}.tmp-${process.pid}`;
let failed = null;
try {
  await rm(TMP, { recursive: true, force: true });
  await mkdir(TMP, { recursive: true });

  const has = {};
  const seriesOf = {};
  for (const need of NEEDS) {
    const series = await read(need, has);
    if (series) seriesOf[need.file.slice(0, -1)] = { names: need.series, list: series };
  }
  const overview = JSON.parse(await readFile(join(TMP, "overview.json"), "utf8"));
  // The latest day of any series: the Overview flags the series that end before it.
  const latest = overview.reduce((max, s) => (s.latest_date > max ? s.latest_date : max), "") || null;

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
      ...Object.entries(seriesOf).flatMap(([section, { names, list }]) => [
        `export const ${names[0]} = new Map([`,
        ...attachments(section, list),
        "]);",
      ]),
      "",
    ].join("\n")
  );

  await writeJson("manifest.json", {
    generated_at: new Date().toISOString(),
    warehouse: basename(duckdbPath),
    latest_date: latest,
    has,
    ...Object.fromEntries(Object.values(seriesOf).map(({ names, list }) => [names[1], list])),
  });

  await rm(OUT, { recursive: true, force: true });
  await rename(TMP, OUT);
  const count = (section) => seriesOf[section].list.length;
  console.log(
    `sources: ${count("regimes")} regime series, ${count("derivatives")} derivatives series, ` +
      `coverage ${has.dim_coverage_series ? "present" : "absent"}, ` +
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
