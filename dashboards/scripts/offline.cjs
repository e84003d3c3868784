// Preloaded (node --require) into every Observable Framework command run by scripts/observable.mjs:
// the build must not fetch anything from outside the machine (Framework fetches npm: imports from
// jsDelivr, versions from the npm registry, DuckDB extensions and telemetry with fetch()). Any
// fetch to a host other than loopback fails at once with a message naming the URL, so a change that
// would need the network breaks the build instead of quietly downloading.
"use strict";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const realFetch = globalThis.fetch;

globalThis.fetch = async function offlineFetch(input, init) {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  if (!LOOPBACK.has(url.hostname)) {
    throw new Error(`offline build: refusing to fetch ${url.href} (dashboards must build without the network)`);
  }
  return realFetch(input, init);
};
