// The market/symbol dropdown of the Regime timeline and Derivatives pages. Its value is "market/symbol";
// it follows the page's #market/symbol (so a series can be linked to, and Back works) and keeps it.
import { html } from "htl";

/**
 * @param {{market: string, symbol: string}[]} series  the series to choose from
 * @returns {HTMLElement} an element with a `value` that emits "input" (use it with Framework's view())
 */
export function seriesPicker(series) {
  const keys = series.map((s) => `${s.market}/${s.symbol}`);
  const fromHash = () => {
    const key = decodeURIComponent(window.location.hash.slice(1));
    return keys.includes(key) ? key : keys[0];
  };
  const select = html`<select id="series-picker" aria-label="Market and symbol">
    ${series.map((s, i) => html`<option value=${keys[i]}>${s.symbol} · ${s.market}</option>`)}
  </select>`;
  select.value = fromHash();
  const form = html`<div class="picker"><label for="series-picker">Market and symbol</label>${select}</div>`;
  Object.defineProperty(form, "value", { get: () => select.value });
  select.addEventListener("input", () => {
    if (window.location.hash.slice(1) !== select.value) window.history.replaceState(null, "", `#${select.value}`);
  });
  window.addEventListener("hashchange", () => {
    const key = fromHash();
    if (key !== select.value) {
      select.value = key;
      select.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
  return form;
}

/** The link to one series on a page with a picker, e.g. seriesHref("./regimes.html", s). */
export function seriesHref(page, s) {
  return `${page}#${s.market}/${s.symbol}`;
}
