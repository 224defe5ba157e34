// Builds what the pages link from readable sources, run by `make assets`; the output is
// committed, so serving and testing never need Node:
// - sv_platform/static/js/*.js: assets/js/*.js minified with esbuild; chat.js is bundled
//   with the Socket.IO client it imports (one request instead of two);
// - sv_platform/static/css/site.css: the Bootstrap rules that the templates, the scripts
//   and the Python code use (PurgeCSS over the vendored bootstrap.min.css), then app.css
//   minified.
import { readFile, writeFile } from "node:fs/promises";
import { readdirSync } from "node:fs";
import * as esbuild from "esbuild";
import { PurgeCSS } from "purgecss";

const STATIC = "../sv_platform/static";
const BOOTSTRAP = `${STATIC}/vendor/bootstrap/css/bootstrap.min.css`;
// Syntax every browser of the last five years on a cheap phone runs.
const TARGET = "es2019";
const SOCKET_IO = JSON.parse(await readFile("node_modules/socket.io-client/package.json", "utf8"));
const BANNERS = {
  "chat.js": `/*! Socket.IO client v${SOCKET_IO.version} (c) 2014-2026 Guillermo Rauch, MIT ` +
    "License (static/vendor/socket.io/LICENSE) */",
};

for (const name of readdirSync("js").filter((n) => n.endsWith(".js")).sort()) {
  const result = await esbuild.build({
    entryPoints: [`js/${name}`],
    outfile: `${STATIC}/js/${name}`,
    bundle: true,
    format: "iife",
    minify: true,
    target: TARGET,
    legalComments: "none",
    charset: "utf8",
    banner: BANNERS[name] ? { js: BANNERS[name] } : undefined,
    metafile: true,
  });
  const [output] = Object.values(result.metafile.outputs);
  console.log(`js/${name}: ${output.bytes} bytes`);
}

const [purged] = await new PurgeCSS().purge({
  css: [BOOTSTRAP],
  content: ["../sv_platform/templates/**/*.html", "js/*.js", "../sv_platform/**/*.py"],
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
const app = (await esbuild.transform(await readFile(`${STATIC}/css/app.css`, "utf8"), {
  loader: "css",
  minify: true,
  target: TARGET,
})).code;
const site = header + body.trim() + "\n" + app;
await writeFile(`${STATIC}/css/site.css`, site);
console.log(`site.css: ${site.length} bytes`);
