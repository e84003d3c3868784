// Colours and small helpers shared by the pages (no imports from npm: all local).

export const REGIMES = ["bull_quiet", "bull_volatile", "bear_quiet", "bear_volatile", "unclassified"];
export const REGIME_COLORS = ["#1a9850", "#91cf60", "#fc8d59", "#d73027", "#bdbdbd"];

export const LEVERAGE = ["deleveraging", "crowded_long", "crowded_short", "neutral", "n/a"];
export const LEVERAGE_COLORS = ["#7b3294", "#d7191c", "#2c7bb6", "#969696", "#d9d9d9"];

export const STATUSES = ["complete", "incomplete", "missing"];
export const STATUS_COLORS = ["#1a9850", "#fdae61", "#d73027"];

const DAY_MS = 864e5;

/** {column: [values…]} (how `npm run sources` writes a series) -> [{column: value, …}, …]. */
export function fromColumns(columns) {
  const names = Object.keys(columns);
  const n = names.length ? columns[names[0]].length : 0;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k) => [k, columns[k][i]])));
}

/** "2023-05-31" -> the UTC midnight Date of that day. */
export function parseDay(s) {
  return new Date(`${s}T00:00:00Z`);
}

export function nextDay(d) {
  return new Date(+d + DAY_MS);
}

/** [min, max + 1 day] of the dates: the x domain every chart of a page shares, so the axes line up. */
export function dayDomain(dates) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of dates) {
    if (+d < lo) lo = +d;
    if (+d > hi) hi = +d;
  }
  return [new Date(lo), new Date(hi + DAY_MS)];
}

export function colorOf(domain, range, value) {
  const i = domain.indexOf(value);
  return i >= 0 ? range[i] : range[range.length - 1];
}

export function pct(x, digits = 1) {
  return x == null || Number.isNaN(x) ? "–" : `${(100 * x).toFixed(digits)}%`;
}

export function num(x, digits = 2) {
  return x == null || Number.isNaN(x)
    ? "–"
    : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/**
 * The rows (sorted by `date`, one per day at most) with a `{date, trade_date, missing: true}` row
 * added for every calendar day missing between them: Plot breaks a line or an area at a row whose
 * value is undefined, so a gap in the data shows as a gap instead of a straight line across it.
 */
export function fillDays(rows) {
  const out = [];
  for (const d of rows) {
    const prev = out[out.length - 1];
    if (prev) {
      for (let t = +prev.date + DAY_MS; t < +d.date; t += DAY_MS) {
        out.push({ date: new Date(t), trade_date: new Date(t).toISOString().slice(0, 10), missing: true });
      }
    }
    out.push(d);
  }
  return out;
}

const present = (v) => v != null && !Number.isNaN(v);

/** Whether any row has a value for `key`: a chart with none shows its empty state instead. */
export function hasValues(rows, key) {
  return rows.some((d) => present(d[key]));
}

/** Rows with a value for `key` whose neighbours have none: a line cannot draw them, a dot can. */
export function isolated(rows, key) {
  return rows.filter((d, i) => present(d[key]) && !present(rows[i - 1]?.[key]) && !present(rows[i + 1]?.[key]));
}
