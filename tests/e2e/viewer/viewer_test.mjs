// Drives Debian's chromium (headless) with playwright-core against the wsproxy web viewer:
// history on open, drill-down timelines (live and recently closed), the filter on both
// tables, the UTC/local toggle, and a 1280 px wide page that never scrolls sideways.
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
  // The page must fit the 1280 px; a zone far from UTC makes the toggle visible.
  viewport: { width: 1280, height: 900 },
  timezoneId: "Asia/Kolkata",
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

  const run = (args) => {
    const p = spawn("/usr/bin/python3", [env("CLIENTS_SCRIPT"), "--url", env("PROXY_WS"), ...args],
                    { stdio: ["ignore", "inherit", "inherit"] });
    clients.push(p);
    return p;
  };

  // Before the page opens: one tab that sends a message, gets its answer and closes.
  const early = run(["--clients", "1", "--chat", "chat-early", "--hold", "2"]);
  const earlyCode = await new Promise((resolve) => early.on("exit", resolve));
  assert.equal(earlyCode, 0, "the early client failed");

  await page.goto(env("VIEWER_URL"));
  await page.locator("#tap-status", { hasText: "live" }).waitFor();
  assert.ok(!page.url().includes("token="), `the token stays in the address bar: ${page.url()}`);
  step("the viewer loads with ?token=, drops the token from the address and its tap goes live");

  // History: the early tab's frames are there although they happened before the page opened.
  const past = page.locator('tr.frame[data-history="true"][data-type="send_message"]');
  await past.first().waitFor();
  assert.equal(await past.first().locator("td:nth-child(5)").textContent(), "chat-early");
  assert.ok((await page.locator('tr.frame[data-history="true"][data-type="join_chat"][data-injected="true"]').count()) >= 1,
            "the injected join_chat from before the page is shown");
  step("history: frames from before the page opened are shown, then the tap goes live");

  // Drill-down into the recently closed connection: its whole timeline.
  const closedRow = page.locator('tr.connection[data-state="closed"]', { hasText: "chat-early" });
  await closedRow.first().waitFor();
  await closedRow.first().click();
  const closedLine = page.locator('tr.timeline li[data-event="closed"]');
  await closedLine.waitFor();
  const events = await page.locator("tr.timeline li").evaluateAll((lis) =>
    lis.map((li) => ({ event: li.dataset.event, type: li.dataset.type || "", text: li.textContent,
                       latency: li.dataset.latency, injected: li.classList.contains("injected") })));
  assert.equal(events[0].event, "opened", JSON.stringify(events[0]));
  assert.equal(events[events.length - 1].event, "closed");
  const types = events.map((e) => e.type);
  for (const t of ["connection_ready", "join_chat", "send_message", "response_complete"])
    assert.ok(types.includes(t), `timeline lacks ${t}: ${types}`);
  const join = events.find((e) => e.type === "join_chat" && e.injected);
  assert.ok(join && join.text.includes("why: frame (send_message)"), `the join's reason: ${join && join.text}`);
  assert.ok(types.indexOf("join_chat") < types.indexOf("send_message"), "join before the message");
  const complete = events.find((e) => e.type === "response_complete");
  assert.ok(Number(complete.latency) >= 0 && complete.text.includes("complete after"), `answer latency: ${complete.text}`);
  assert.match(events[events.length - 1].text, /closed: client 1000, backend 1000 · client_close/);
  await closedRow.first().click();
  assert.equal(await page.locator("tr.timeline").count(), 0, "a second click closes the timeline");
  step("a recently closed connection's timeline: opened, ready, the join with its reason, the message, the answer with its latency, the close with its codes");

  // The demo flow: three tabs with the frontend bug, each in its own chat, sending a message
  // every 0.4 s, plus one more on a chat of its own that sends once.
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

  // Drill-down into a live connection.
  const liveRow = page.locator('tr.connection[data-state="live"]', { hasText: "chat-quiet" });
  await liveRow.first().click();
  await page.locator('tr.timeline li[data-type="send_message"]').first().waitFor();
  assert.equal(await page.locator("tr.timeline li").first().getAttribute("data-event"), "opened");
  assert.equal(await page.locator('tr.timeline li[data-event="closed"]').count(), 0, "a live one is not closed");
  step("a live connection's timeline opens on a click");

  // No sideways scrolling at 1280 px, with a timeline open and every row filled.
  const overflow = await page.evaluate(() => {
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth) out.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
    for (const e of document.querySelectorAll(".scroll, ol.events"))
      if (e.scrollWidth > e.clientWidth) out.push(`${e.id || e.className} ${e.scrollWidth} > ${e.clientWidth}`);
    return out;
  });
  assert.deepEqual(overflow, [], "something scrolls sideways at 1280 px");
  await liveRow.first().click();
  step("the page fits 1280 px without sideways scrolling");

  // One time zone everywhere: UTC first, then the browser's (Asia/Kolkata, UTC+5:30).
  const times = () => page.evaluate(() => {
    const frame = document.querySelector("tr.frame td.time[data-ts]");
    const conn = document.querySelector("tr.connection td.time[data-ts]");
    return { zone: document.getElementById("tz").dataset.zone,
             head: document.querySelector("#frames th.tz-label").textContent,
             connHead: document.querySelector("#connections th.tz-label").textContent,
             frame: [Number(frame.dataset.ts), frame.textContent],
             conn: [Number(conn.dataset.ts), conn.textContent] };
  });
  const clockAt = (ms, offsetMin, withMs) =>
    new Date(ms + offsetMin * 60000).toISOString().slice(11, withMs ? 23 : 19);
  let t = await times();
  assert.equal(t.zone, "UTC");
  assert.equal(t.head, "Time (UTC)");
  assert.equal(t.connHead, "Started (UTC)");
  assert.equal(t.frame[1], clockAt(t.frame[0], 0, true));
  assert.equal(t.conn[1], clockAt(t.conn[0], 0, false));
  await page.click("#tz");
  t = await times();
  assert.equal(t.zone, "local");
  assert.equal(t.head, "Time (local)");
  assert.equal(t.frame[1], clockAt(t.frame[0], 330, true), "frame times follow the toggle");
  assert.equal(t.conn[1], clockAt(t.conn[0], 330, false), "connection times follow the toggle");
  await page.click("#tz");
  assert.equal((await times()).zone, "UTC");
  step("times are UTC by default and the toggle switches frames and connections to local together");

  // The filter box: text, then a regex; it narrows the connections too.
  const allConns = await page.locator("tr.connection").count();
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
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll("tr.connection")];
    return rows.length > 0 && rows.length < n && rows.every((r) => r.textContent.includes("chat-quiet"));
  }, allConns);
  step("the filter box narrows both tables, by text and by /regex/");

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
