// Observable Framework configuration of the Binance Warehouse dashboards (see README.md here).
// Nothing here may make the site fetch from outside the machine, at build or view time.
export default {
  title: "Binance Warehouse",
  root: "src",
  output: "build",
  pages: [
    { name: "Overview", path: "/" },
    { name: "Regime timeline", path: "/regimes" },
    { name: "Derivatives", path: "/derivatives" },
    { name: "Coverage", path: "/coverage" },
    { name: "Market", path: "/market" },
  ],
  style: "style.css",
  // The default global stylesheet is a Google Fonts URL: none, the theme's system fonts do.
  globalStylesheets: [],
  // An empty icon: without one the browser asks for /favicon.ico (a 404 in the console).
  head: '<link rel="icon" href="data:,">',
  // Links end in .html, so any static file server (python -m http.server too) serves the build.
  preserveExtension: true,
  search: false,
  footer: "Binance Warehouse: built from the DuckDB warehouse by <code>npm run sources</code>.",
};
