// The date-range control of the timeline pages: from and to dates plus presets (last 30 / 90 / 365
// days, all). Its value is [from, to) as UTC Dates, the x domain of the page's charts.
import { html } from "htl";

const DAY_MS = 864e5;
const PRESETS = [
  ["30 d", 30],
  ["90 d", 90],
  ["1 y", 365],
  ["all", null],
];
const iso = (d) => d.toISOString().slice(0, 10);

/**
 * @param {Date} first  the series' first day
 * @param {Date} last  the series' last day
 * @returns {HTMLElement} an element with `value` [from, to) that emits "input" (for Framework's view())
 */
export function dateRange(first, last) {
  const bounds = { min: iso(first), max: iso(last) };
  const from = html`<input type="date" id="range-from" aria-label="From" required min=${bounds.min} max=${bounds.max}>`;
  const to = html`<input type="date" id="range-to" aria-label="To" required min=${bounds.min} max=${bounds.max}>`;
  from.value = bounds.min;
  to.value = bounds.max;
  const buttons = PRESETS.map(
    ([label, days]) => html`<button type="button" data-days=${days ?? "all"}>${label}</button>`
  );
  const form = html`<div class="picker range"><label for="range-from">Dates</label>${from}<span>to</span>${to}${buttons}</div>`;
  const value = () => {
    let lo = new Date(`${from.value || bounds.min}T00:00:00Z`);
    let hi = new Date(`${to.value || bounds.max}T00:00:00Z`);
    if (hi < lo) [lo, hi] = [hi, lo];
    return [lo, new Date(+hi + DAY_MS)];
  };
  Object.defineProperty(form, "value", { get: value });
  for (const button of buttons) {
    button.addEventListener("click", () => {
      const days = button.dataset.days;
      to.value = bounds.max;
      from.value = days === "all" ? bounds.min : iso(new Date(Math.max(+first, +last - (Number(days) - 1) * DAY_MS)));
      form.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
  return form;
}
