// Runs the web SDK benchmark in headless Chromium (Debian's) and prints the medians as JSON.
//   bash scripts/build-web.sh --bench && node bindings/web/bench/run.mjs [samples] [batch]
// The page is served cross-origin isolated (COOP + COEP) so that performance.now() has a 5 µs
// resolution; see bench.js for what is timed.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { ROOT, launchChromium } from "../test/harness.mjs";

const [samples = "31", batch = "20"] = process.argv.slice(2);
const files = { "/": join(ROOT, "bindings/web/bench/page.html"), "/bench.js": join(ROOT, "bindings/web/bench/bench.js") };
for (const f of ["scv2_web.js", "scv2_web_bg.wasm"]) files[`/pkg/${f}`] = join(ROOT, "target/web-bench/pkg", f);
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  const file = files[path];
  if (!file) return res.writeHead(404).end();
  res.writeHead(200, { "Content-Type": types[extname(file)] ?? "text/html", "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp", "Cache-Control": "no-store" });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  page.on("pageerror", (e) => console.error(e));
  await page.goto(`http://127.0.0.1:${server.address().port}/?samples=${samples}&batch=${batch}`);
  await page.waitForFunction(() => document.body.dataset.done === "1", null, { timeout: 600_000 });
  console.log(await page.textContent("#out"));
} finally {
  await browser.close();
  server.close();
}
