// Builds sv_platform/static/css/site.css: the Bootstrap rules that the templates, the
// scripts and the Python code use (PurgeCSS over the vendored bootstrap.min.css), then
// app.css unchanged. Run by `make assets`; the built file is committed, so serving and
// testing never need Node.
import { readFile, writeFile } from "node:fs/promises";
import { PurgeCSS } from "purgecss";

const STATIC = "../sv_platform/static";
const BOOTSTRAP = `${STATIC}/vendor/bootstrap/css/bootstrap.min.css`;

const [purged] = await new PurgeCSS().purge({
  css: [BOOTSTRAP],
  content: [
    "../sv_platform/templates/**/*.html",
    `${STATIC}/js/*.js`,
    "../sv_platform/**/*.py",
  ],
  // Class names that templates build from variables (alert-{{ category }}, text-bg-{{ c }},
  // {{ css }} buttons) and the states Bootstrap's components switch to.
  safelist: {
    standard: ["show", "collapsing", "active", "disabled", "is-invalid"],
    deep: [],
    greedy: [/^alert-(success|info|warning|danger|secondary)$/, /^text-bg-/],
  },
  keyframes: true,
  variables: true,
  fontFace: true,
});

const header = "/*! Bootstrap v5.3.9 (https://getbootstrap.com/), subset used by Servicios " +
  "Virtuales. Copyright 2011-2025 The Bootstrap Authors. MIT License. */\n";
const body = purged.css.replace(/\/\*![\s\S]*?\*\/\s*/, "").replace(/\/\*# sourceMappingURL=.*?\*\/\s*$/, "");
const app = await readFile(`${STATIC}/css/app.css`, "utf8");
await writeFile(`${STATIC}/css/site.css`, header + body.trim() + "\n" + app);
console.log(`site.css: ${(header + body + app).length} bytes`);
