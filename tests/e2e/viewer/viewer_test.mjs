// Drives Debian's chromium (headless) with playwright-core against the wsproxy web viewer.
// Started by viewer_test.sh, which runs the proxy and the backend and passes:
//   VIEWER_URL      the viewer with ?token=
//   PROXY_WS        the proxy's WebSocket URL for the demo clients
//   CLIENTS_SCRIPT  tests/e2e/tap_clients.py
//   SCREENSHOT      where to save the screenshot
//   USER_DATA_DIR   a fresh chromium profile folder
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const step = (what) => console.log(`ok: ${what}`);

const context = await chromium.launchPersistentContext(env("USER_DATA_DIR"), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  timeout: 30000,
});

const clients = [];
let failed = false;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  // The page must load nothing from anywhere but the admin port.
  const origin = new URL(env("VIEWER_URL")).origin;
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith(origin.replace("http", "ws")) && !u.startsWith("data:"))
      problems.push(`request to another origin: ${u}`);
  });

  await page.goto(env("VIEWER_URL"));
  await page.locator("#tap-status", { hasText: "live" }).waitFor();
  assert.ok(!page.url().includes("token="), `the token stays in the address bar: ${page.url()}`);
  step("the viewer loads with ?token=, drops the token from the address and its tap goes live");

  // The demo flow: three tabs with the frontend bug, each in its own chat, sending a message
  // every 0.4 s, plus one more on a chat of its own that sends once.
  const run = (args) => {
    const p = spawn("/usr/bin/python3", [env("CLIENTS_SCRIPT"), "--url", env("PROXY_WS"), ...args],
                    { stdio: ["ignore", "inherit", "inherit"] });
    clients.push(p);
  };
  run(["--clients", "3", "--prefix", "viewer", "--hold", "25", "--every", "0.4"]);
  run(["--clients", "1", "--chat", "chat-quiet", "--hold", "25"]);

  const injected = page.locator('tr.frame[data-type="join_chat"][data-injected="true"]');
  await injected.first().waitFor();
  await page.locator('tr.frame[data-type="send_message"]').first().waitFor();
  await page.locator('tr.frame[data-type="response_chunk"]').first().waitFor();
  const arrows = await page.locator("tr.frame td.arrow").allTextContents();
  assert.ok(arrows.includes("↑") && arrows.includes("↓"), `direction arrows: ${arrows.slice(0, 5)}`);
  assert.ok((await injected.first().locator(".flag.injected").count()) === 1, "injected flag shown");
  // Why it was injected: the reason in the flags, and first in the detail pane.
  const reason = await injected.first().locator(".flag.reason").textContent();
  assert.ok(["frame", "url_grace", "rest_session", "rejoin"].includes(reason), `reason flag: ${reason}`);
  await injected.first().click();
  const why = await page.locator("tr.detail").first().textContent();
  assert.ok(why.startsWith("why: " + reason), `the detail pane names the reason: ${why.slice(0, 80)}`);
  await injected.first().click();
  step("frames appear, with arrows, and the injected join_chat is flagged with its reason");

  // Connections and their badges (the table refreshes every 2 s).
  await page.waitForFunction(() => document.querySelectorAll("tr.connection").length >= 4);
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("tr.connection")];
    return rows.length >= 4 && rows.every((r) => r.querySelectorAll(".badge.on").length === 5);
  }, null, { timeout: 15000 });
  const badges = await page.locator("tr.connection").first().locator(".badge").allTextContents();
  assert.deepEqual(badges, ["A", "B", "C", "D", "E"]);
  const byUs = await page.locator("tr.connection td:nth-child(7)").allTextContents();
  assert.ok(byUs.some((t) => t.includes("chat-quiet")), `joined by us: ${byUs}`);
  step("the connections table shows each connection with the five signals on");

  // The filter box: text, then a regex.
  await page.fill("#filter", "join_chat");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("tr.frame")];
    return rows.length > 0 && rows.every((r) => r.dataset.type === "join_chat");
  });
  await page.fill("#filter", "/^response_(start|complete)/");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("tr.frame")];
    return rows.length > 0 && rows.every((r) => /^response_(start|complete)$/.test(r.dataset.type));
  });
  await page.fill("#filter", "chat-quiet");
  await page.waitForFunction(() => document.querySelectorAll("tr.frame").length > 0);
  const quietChats = await page.locator("tr.frame td:nth-child(5)").allTextContents();
  assert.ok(quietChats.every((c) => c === "chat-quiet"), `filtered chats: ${quietChats}`);
  step("the filter box narrows the list by text and by /regex/");

  // Pause holds the list still while frames keep coming; resume catches up.
  await page.fill("#filter", "");
  await page.click("#pause");
  await page.waitForTimeout(300);
  const held = await page.locator("tr.frame").count();
  await page.waitForTimeout(1500);
  assert.equal(await page.locator("tr.frame").count(), held, "rows added while paused");
  assert.match(await page.textContent("#frame-count"), /paused, [1-9]\d* waiting/);
  await page.click("#pause");
  await page.waitForFunction((n) => document.querySelectorAll("tr.frame").length > n, held);
  step("pause holds the list, resume brings in what waited");

  // Expanding a frame: its metadata, and the payload with content redacted.
  await page.fill("#filter", "send_message");
  await page.locator("tr.frame").first().waitFor();
  await page.locator("tr.frame").first().click();
  const detail = await page.locator("tr.detail").first().textContent();
  assert.ok(detail.includes('"type": "send_message"'), detail);
  assert.ok(detail.includes("[redacted]"), `payload not redacted: ${detail}`);
  assert.ok(!detail.includes("secret question"), "content leaked into the viewer");
  await page.locator("tr.frame").first().click();
  assert.equal(await page.locator("tr.detail").count(), 0, "a second click closes the detail");
  step("a click expands a frame's metadata and its redacted payload");

  // The picture: everything, with the injected join_chat opened.
  await page.fill("#filter", "");
  await page.click("#pause");
  await page.locator('tr.frame[data-injected="true"]').first().click();
  await page.locator("tr.detail").first().waitFor();
  await page.locator('tr.frame[data-injected="true"]').first().scrollIntoViewIfNeeded();
  const bodyText = await page.textContent("body");
  assert.ok(!bodyText.includes("mip_session"), "a cookie is shown");
  await page.screenshot({ path: env("SCREENSHOT"), fullPage: false });
  step(`screenshot saved to ${env("SCREENSHOT")}`);

  assert.deepEqual(problems, [], "the page logged errors");
} catch (e) {
  failed = true;
  console.error("FAIL:", e && e.stack ? e.stack : e);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: env("SCREENSHOT").replace(/\.png$/, "-failed.png") });
  } catch { /* best effort */ }
} finally {
  for (const p of clients) p.kill();
  await context.close();
}
process.exit(failed ? 1 : 0);
