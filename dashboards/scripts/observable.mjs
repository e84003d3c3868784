// Run an Observable Framework command (`build`, or `preview` for live editing) offline:
//   node scripts/observable.mjs build
//   node scripts/observable.mjs preview --host 127.0.0.1 --no-open
// - telemetry off (OBSERVABLE_TELEMETRY_DISABLE; Framework otherwise posts usage events);
// - no fetch leaves the machine (scripts/offline.cjs);
// - the npm version cache pinned (below), so Framework never asks the npm registry which version of
//   its optional libraries (d3, React, DuckDB-Wasm…) to name in its client bundle.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = resolve(HERE, "..");
const FRAMEWORK = join(PROJECT, "node_modules", "@observablehq", "framework");
const NPM_CACHE = join(PROJECT, "src", ".observablehq", "cache", "_npm");

if (!existsSync(FRAMEWORK)) {
  console.error("dashboards: node_modules missing; run `npm --prefix dashboards ci` first");
  process.exit(1);
}
if (!existsSync(join(PROJECT, "src", "data", "manifest.json"))) {
  console.error("dashboards: no data yet; run `DUCKDB_PATH=... npm --prefix dashboards run sources` first");
  process.exit(1);
}

// Framework's client names its recommended libraries as `npm:<name>` and resolves each to a version,
// from .observablehq/cache/_npm/<name>@<version>/ when such a folder exists, else from the registry.
// The pages here import only from node_modules (bundled locally), so those libraries are never
// loaded; one folder per name is enough to keep the registry out of the build. The version is the
// installed one when there is one (else 0.0.0: a page that used such a library implicitly would then
// fail to build offline, loudly, rather than download it).
function* jsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(path);
    else if (entry.name.endsWith(".js")) yield path;
  }
}
function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(join(PROJECT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "0.0.0";
  }
}
function pinNpmVersions() {
  const names = new Set();
  for (const file of jsFiles(join(FRAMEWORK, "dist", "client"))) {
    for (const [, name] of readFileSync(file, "utf8").matchAll(/["'`]npm:((?:@[\w.-]+\/)?[\w.-]+)(?=[/"'`])/g)) {
      names.add(name);
    }
  }
  const cached = existsSync(NPM_CACHE) ? readdirSync(NPM_CACHE, { recursive: true }) : [];
  for (const name of names) {
    const prefix = `${name}@`;
    if (cached.some((entry) => String(entry).startsWith(prefix))) continue;
    mkdirSync(join(NPM_CACHE, `${name}@${installedVersion(name)}`), { recursive: true });
  }
}

pinNpmVersions();
const child = spawn(
  process.execPath,
  ["--require", join(HERE, "offline.cjs"), join(FRAMEWORK, "dist", "bin", "observable.js"), ...process.argv.slice(2)],
  { cwd: PROJECT, stdio: "inherit", env: { ...process.env, OBSERVABLE_TELEMETRY_DISABLE: "true" } }
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
