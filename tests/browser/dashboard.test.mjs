// faultline's dashboard page (GET /) in a real headless Chromium driven by playwright-core: what a
// person does in the page must reach the proxies, checked with real sockets. Started by CTest with
// FAULTLINE_BINARY, and FAULTLINE_ARTIFACT_DIR for the screenshot.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const wait_ms = 10000;
const chromium_path = process.env.FAULTLINE_CHROMIUM || "/usr/bin/chromium";

let browser;
let faultline;
const servers = [];

// Starts `faultline serve` and resolves once its API listens. A faultline that does not get there
// in time is killed, so no test leaves one behind.
function startFaultline(args = [], api = "127.0.0.1:0") {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.env.FAULTLINE_BINARY,
                       ["serve", "--api", api, "--log-format", "json", ...args],
                       { stdio: ["ignore", "ignore", "pipe"] });
    const lines = readline.createInterface({ input: proc.stderr });
    const log = [];
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`faultline did not start within ${wait_ms} ms:\n${log.join("\n")}`));
    }, wait_ms);
    lines.on("line", (line) => {
      log.push(line);
      if (log.length > 50) log.shift();
      let event;
      try { event = JSON.parse(line); } catch { return; }
      if (event.event === "listening" && event.kind === "api") {
        clearTimeout(timer);
        resolve({ proc, log, url: `http://${event.address}` });
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`faultline exited with ${code}:\n${log.join("\n")}`));
    });
  });
}

// SIGTERM, and faultline must exit 0 (under ASan a leak or an error would make it fail). One that
// does not stop in time gets SIGKILL, and the test fails.
async function stopFaultline(started) {
  if (!started) return;
  const { proc, log } = started;
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    try {
      await withTimeout(exited, "faultline to stop after SIGTERM");
    } catch (e) {
      proc.kill("SIGKILL");
      await withTimeout(exited, "faultline to end after SIGKILL");
      throw new Error(`${e.message}:\n${log.join("\n")}`);
    }
  }
  assert.equal(proc.exitCode, 0, `faultline exited with ${proc.exitCode}:\n${log.join("\n")}`);
}

// A TCP server on 127.0.0.1 that hands each connection to on_connection, as a proxy's upstream.
function startUpstream(on_connection) {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.on("error", () => {});  // faultline resets connections that are killed or stopped
      on_connection(socket);
    });
    servers.push(server);
    server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${server.address().port}`));
  });
}

async function callApi(url, method, route, body, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(url + route, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(wait_ms),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), wait_ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function hostPort(address) {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

// Connects through a proxy; `received` is everything the client read once the connection ends.
function connect(address) {
  const [host, port] = hostPort(address);
  const socket = net.connect(port, host);
  let data = "";
  socket.on("data", (chunk) => { data += chunk; });
  socket.on("error", () => {});  // a reset ends the connection too; `received` says what came
  const connected = withTimeout(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  }), `a connection to ${address}`);
  const received = withTimeout(new Promise((resolve) => socket.once("close", () => resolve(data))),
                               `the end of a connection to ${address}`);
  return { socket, connected, received };
}

// A fresh page on the dashboard, collecting console errors, uncaught exceptions and every request.
async function openDashboard(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(wait_ms);
    const errors = [];
    const requests = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
    page.on("request", (request) => requests.push(request));
    await page.goto(url + "/");
    return { page, errors, requests, close: () => context.close() };
  } catch (e) {
    await context.close();
    throw e;
  }
}

// The browser itself logs a failed request as a console error; only those expected may be there:
// a number is an HTTP status, "network" a request that reached no server.
function assertNoConsoleErrors(errors, ...expected) {
  const unexpected = errors.filter((text) => !expected.some((what) => what === "network"
    ? text.startsWith("Failed to load resource: net::ERR_")
    : text.startsWith(`Failed to load resource: the server responded with a status of ${what} `)));
  assert.deepEqual(unexpected, []);
}

async function assertNoErrorShown(page) {
  assert.deepEqual(await page.locator("#errors li").allTextContents(), []);
}

function ruleRow(page, proxy, rule) {
  return page.locator(`#proxies tr[data-proxy="${proxy}"][data-rule="${rule}"]`);
}

// Adds a rule the way a person does: the form's selects and attribute inputs, then its button.
async function addRuleWithForm(page, { proxy, type, stream, attributes }) {
  await page.locator(`#rule-proxy option[value="${proxy}"]`).waitFor({ state: "attached" });
  await page.selectOption("#rule-proxy", proxy);
  await page.selectOption("#rule-type", type);
  await page.selectOption("#rule-stream", stream);
  for (const [name, value] of Object.entries(attributes)) {
    await page.fill(`#rule-attributes [data-attribute="${name}"]`, String(value));
  }
  await page.click('#rule-form button[type="submit"]');
}

before(async () => {
  browser = await chromium.launch({ executablePath: chromium_path, args: ["--no-sandbox"] });
  faultline = await startFaultline();
});

// faultline is stopped even when closing the browser fails, and the upstreams closed in any case.
after(async () => {
  try {
    try {
      await browser?.close();
    } finally {
      await stopFaultline(faultline);
    }
  } finally {
    for (const server of servers) server.close();
  }
});

// Runs body with a fresh page; the page's browser context is closed whatever happens, and only then
// are the console errors checked (expected as in assertNoConsoleErrors).
async function withDashboard(url, body, ...expectedConsoleErrors) {
  const dashboard = await openDashboard(url);
  try {
    await body(dashboard);
  } finally {
    await dashboard.close();
  }
  assertNoConsoleErrors(dashboard.errors, ...expectedConsoleErrors);
}

test("the page loads with every panel and no console error", async () => {
  await withDashboard(faultline.url, async ({ page }) => {
    assert.equal(await page.title(), "faultline");
    await page.locator('#rule-type option[value="limit_data"]').waitFor({ state: "attached" });
    await page.locator("#stream-status.live").waitFor();
    await page.waitForFunction(() => /^v\d/.test(document.getElementById("version").textContent));
    for (const id of ["#proxies", "#rule-form", "#connections", "#teardowns", "#counts"]) {
      assert.equal(await page.locator(id).count(), 1, id);
    }
    assert.equal(await page.locator("#token-form").isVisible(), false);
    await assertNoErrorShown(page);
  });
});

test("a rule added with the form acts, and switching it off in the page stops it", async () => {
  const upstream = await startUpstream((socket) => socket.end("abcd"));
  const proxy = await callApi(faultline.url, "POST", "/proxies",
                              { name: "switch", listen: "127.0.0.1:0", upstream });
  try {
    await withDashboard(faultline.url, async ({ page }) => {
      await page.locator('#proxies [data-proxy="switch"]').waitFor();

      await addRuleWithForm(page, { proxy: "switch", type: "limit_data", stream: "downstream",
                                    attributes: { bytes: 2 } });
      const row = ruleRow(page, "switch", "limit_data_downstream");
      await row.waitFor();
      assert.equal(await row.locator(".attributes").textContent(), "bytes=2");
      const toxic = await callApi(faultline.url, "GET",
                                  "/proxies/switch/toxics/limit_data_downstream");
      assert.deepEqual(toxic.attributes, { bytes: 2 });  // sent as an integer, not "2"
      assert.equal(await connect(proxy.listen).received, "ab");

      // The controls say what they act on.
      const toggle = page.getByRole("checkbox",
                                    { name: "rule limit_data_downstream of proxy switch enabled" });
      const remove = page.getByRole("button",
                                    { name: "remove rule limit_data_downstream of proxy switch" });
      assert.equal(await toggle.count(), 1);
      assert.equal(await remove.count(), 1);

      const switched = page.waitForResponse((response) =>
        response.request().method() === "PATCH" && response.url().endsWith("/limit_data_downstream"));
      await toggle.uncheck();
      assert.equal((await switched).status(), 200);
      await page.locator('#proxies tr[data-rule="limit_data_downstream"].muted').waitFor();
      assert.equal((await callApi(faultline.url, "GET",
                                  "/proxies/switch/toxics/limit_data_downstream")).enabled, false);
      assert.equal(await connect(proxy.listen).received, "abcd");

      await toggle.check();
      await page.locator('#proxies tr[data-rule="limit_data_downstream"]:not(.muted)').waitFor();
      assert.equal(await connect(proxy.listen).received, "ab");

      // A double click sends one DELETE: the button is disabled while its request runs.
      const deletes = [];
      page.on("request", (request) => {
        if (request.method() === "DELETE") deletes.push(request.url());
      });
      const removed = page.waitForResponse((response) =>
        response.request().method() === "DELETE" && response.url().endsWith("/limit_data_downstream"));
      await remove.dblclick();
      assert.equal((await removed).status(), 204);
      await row.waitFor({ state: "detached" });
      assert.equal(deletes.length, 1, deletes.join(", "));
      assert.equal(await connect(proxy.listen).received, "abcd");
      await assertNoErrorShown(page);
    });
  } finally {
    await callApi(faultline.url, "DELETE", "/proxies/switch");
  }
});

test("the API's error message is shown in the page when adding a rule fails", async () => {
  const upstream = await startUpstream((socket) => socket.end());
  await callApi(faultline.url, "POST", "/proxies",
                { name: "refusing", listen: "127.0.0.1:0", upstream });
  try {
    await withDashboard(faultline.url, async ({ page }) => {
      await page.locator('#proxies [data-proxy="refusing"]').waitFor();
      // half_close has no default mode: the API refuses the rule and says why.
      await addRuleWithForm(page, { proxy: "refusing", type: "half_close", stream: "downstream",
                                    attributes: { mode: "" } });
      const shown = page.locator("#errors li", { hasText: "attributes.mode" });
      await shown.waitFor();
      assert.match(await shown.textContent(), /required: one of drop_fin/);
      assert.equal(await page.locator('#proxies [data-proxy="refusing"] tr[data-rule]').count(), 0);

      await shown.locator("button").click();
      await shown.waitFor({ state: "detached" });
    }, 400);
  } finally {
    await callApi(faultline.url, "DELETE", "/proxies/refusing");
  }
});

test("a connection killed from the page shows in the teardown stream as Xlate Clear", async () => {
  const upstream = await startUpstream(() => {});  // holds each connection open
  const proxy = await callApi(faultline.url, "POST", "/proxies",
                              { name: "kill", listen: "127.0.0.1:0", upstream });
  let client;
  try {
    await withDashboard(faultline.url, async ({ page, requests }) => {
      await page.locator("#stream-status.live").waitFor();

      client = connect(proxy.listen);
      await client.connected;
      const clientAddress = `127.0.0.1:${client.socket.localPort}`;
      const row = page.locator("#connections tr", { hasText: clientAddress });
      await row.waitFor();
      assert.equal(await row.locator(".proxy").textContent(), "kill");
      const id = await row.getAttribute("data-conn");
      const kill = page.getByRole("button", { name: `kill connection ${id} (${clientAddress})` });
      assert.equal(await kill.count(), 1);

      // The record must come through the live stream: a reconnect would read it from GET /events.
      await page.evaluate(() => {
        const status = document.getElementById("stream-status");
        window.streamStatusChanges = [];
        new MutationObserver(() => window.streamStatusChanges.push(status.textContent))
          .observe(status, { childList: true, characterData: true, subtree: true, attributes: true });
      });
      const requestsBeforeKill = requests.length;
      await kill.click();
      await client.received;
      const teardown = page.locator(`#teardowns tr[data-teardown="${id}"]`);
      await teardown.waitFor();
      assert.equal(await teardown.locator(".reason").textContent(), "Xlate Clear");
      assert.equal(await teardown.locator(".client").textContent(), `${clientAddress} rst_sent`);
      assert.equal(await teardown.locator(".server").textContent(), `${upstream} rst_sent`);
      await row.waitFor({ state: "detached" });

      const snapshots = requests.slice(requestsBeforeKill).filter((request) => {
        const url = new URL(request.url());
        return request.method() === "GET" && url.pathname === "/events" &&
               !url.searchParams.has("follow");
      });
      assert.deepEqual(snapshots.map((request) => request.url()), []);
      assert.deepEqual(await page.evaluate(() => window.streamStatusChanges), []);
      assert.equal(await page.locator("#stream-status").getAttribute("class"), "live");

      const shownCount = Number(await page.locator('#counts li[data-reason="Xlate Clear"] .count')
                                          .textContent());
      assert.ok(shownCount >= 1);
      assert.equal(shownCount,
                   await page.locator('#teardowns tr[data-reason="Xlate Clear"]').count());
      await assertNoErrorShown(page);
    });
  } finally {
    client?.socket.destroy();
    await callApi(faultline.url, "DELETE", "/proxies/kill");
  }
});

test("a screenshot of the page with proxies, rules, a connection and teardowns", async () => {
  const held = await startUpstream((socket) => socket.write("welcome\n"));
  const closing = await startUpstream((socket) => socket.end("bye\n"));
  let open;
  try {
    const db = await callApi(faultline.url, "POST", "/proxies",
                             { name: "db", listen: "127.0.0.1:0", upstream: held });
    const cache = await callApi(faultline.url, "POST", "/proxies",
                                { name: "cache", listen: "127.0.0.1:0", upstream: closing });
    await callApi(faultline.url, "POST", "/proxies/db/toxics",
                  { type: "latency", stream: "downstream", attributes: { latency: 20, jitter: 5 } });
    await callApi(faultline.url, "POST", "/proxies/db/toxics",
                  { name: "slow-writes", type: "bandwidth", stream: "upstream", toxicity: 0.5,
                    attributes: { rate: 64 }, match: { after_bytes: 1024 } });
    await callApi(faultline.url, "POST", "/proxies/cache/toxics",
                  { type: "reset", attributes: { target: "client" }, enabled: false });
    await withDashboard(faultline.url, async ({ page }) => {
      await page.locator("#stream-status.live").waitFor();

      const ended = connect(cache.listen);
      await ended.connected;
      const endedAddress = `127.0.0.1:${ended.socket.localPort}`;
      assert.equal(await ended.received, "bye\n");
      open = connect(db.listen);
      await open.connected;
      open.socket.write("hello");
      await page.locator("#connections tr", { hasText: `127.0.0.1:${open.socket.localPort}` })
                .waitFor();
      await page.locator('#teardowns tr[data-reason="TCP FINs"]', { hasText: endedAddress })
                .waitFor();
      await ruleRow(page, "db", "slow-writes").waitFor();
      await ruleRow(page, "cache", "reset_downstream").waitFor();

      const directory = process.env.FAULTLINE_ARTIFACT_DIR || os.tmpdir();
      const file = path.join(directory, "dashboard.png");
      fs.rmSync(file, { force: true });
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(fs.statSync(file).size > 0);
      await assertNoErrorShown(page);
    });
  } finally {
    open?.socket.destroy();
    const proxies = await callApi(faultline.url, "GET", "/proxies");
    for (const name of ["db", "cache"]) {
      if (name in proxies) await callApi(faultline.url, "DELETE", `/proxies/${name}`);
    }
  }
});

test("with [api] token the page asks for the token once, and again when it is wrong", async () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "faultline-dashboard-"));
  const config = path.join(directory, "token.toml");
  fs.writeFileSync(config, '[api]\ntoken = "s3cret"\n');
  let secured;
  try {
    secured = await startFaultline(["--config", config]);
    const upstream = await startUpstream((socket) => socket.end());
    await callApi(secured.url, "POST", "/proxies",
                  { name: "secured", listen: "127.0.0.1:0", upstream }, "s3cret");
    await callApi(secured.url, "POST", "/proxies/secured/toxics",
                  { type: "latency", attributes: { latency: 1 } }, "s3cret");
    await withDashboard(secured.url, async ({ page }) => {
      // The first GET /version is held until a good token is in use: its late 401, for the
      // page's first (empty) token, must not ask for the token again.
      let releaseVersion;
      const versionReleased = new Promise((resolve) => { releaseVersion = resolve; });
      let isFirstVersion = true;
      await page.route("**/version", async (route) => {
        if (isFirstVersion) {
          isFirstVersion = false;
          await versionReleased;
        }
        await route.continue();
      });
      await page.reload();

      const form = page.locator("#token-form");
      await form.waitFor();
      await page.locator("#token-message", { hasText: "needs a token" }).waitFor();
      assert.equal(await page.locator("[data-proxy]").count(), 0);

      // A token that cannot be sent in a header is refused by the form and never kept.
      await page.fill("#token-input", "s3cr\u00e9t");
      await page.click('#token-form button[type="submit"]');
      await page.locator("#token-message", { hasText: "visible ASCII" }).waitFor();
      assert.equal(await form.isVisible(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem("faultline-token")), null);

      await page.fill("#token-input", "wrong");
      await page.click('#token-form button[type="submit"]');
      await page.locator("#token-message", { hasText: "refused" }).waitFor();
      await form.waitFor();
      assert.equal(await page.locator("[data-proxy]").count(), 0);

      await page.fill("#token-input", "s3cret");
      await page.click('#token-form button[type="submit"]');
      await page.locator('#proxies div[data-proxy="secured"]').waitFor();
      await page.locator("#stream-status.live").waitFor();
      assert.equal(await form.isVisible(), false);

      const lateRefusal = page.waitForResponse((response) =>
        response.url().endsWith("/version") && response.status() === 401);
      releaseVersion();
      await lateRefusal;
      // The version is asked again (with the good token) only once the late answer was handled.
      await page.waitForFunction(() =>
        /^v\d/.test(document.getElementById("version").textContent));
      assert.equal(await form.isVisible(), false);

      // An action with the token from the page.
      const toggle = page.getByRole("checkbox",
                                    { name: "rule latency_downstream of proxy secured enabled" });
      const switched = page.waitForResponse((response) =>
        response.request().method() === "PATCH" && response.url().endsWith("/latency_downstream"));
      await toggle.uncheck();
      assert.equal((await switched).status(), 200);
      assert.equal((await callApi(secured.url, "GET", "/proxies/secured/toxics/latency_downstream",
                                  undefined, "s3cret")).enabled, false);

      // The token lives in the tab's session: a reload does not ask again.
      await page.reload();
      await page.locator('#proxies div[data-proxy="secured"]').waitFor();
      assert.equal(await form.isVisible(), false);
      await assertNoErrorShown(page);

      // A stored token that cannot be sent is dropped, and the page asks for one.
      await page.evaluate(() => sessionStorage.setItem("faultline-token", "s3cr\u00e9t"));
      await page.reload();
      await page.locator("#token-message", { hasText: "needs a token" }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem("faultline-token")), null);
      await assertNoErrorShown(page);
    }, 401);
  } finally {
    await stopFaultline(secured);
    fs.rmSync(directory, { recursive: true, force: true });
  }
});

test("after faultline restarts on the same port, the page shows its new teardowns", async () => {
  const upstream = await startUpstream((socket) => socket.end("x"));
  const first = await startFaultline();
  let second;
  try {
    const apiAddress = first.url.slice("http://".length);
    const proxy = { name: "restarted", listen: "127.0.0.1:0", upstream };
    const before = await callApi(first.url, "POST", "/proxies", proxy);
    await withDashboard(first.url, async ({ page }) => {
      await page.locator("#stream-status.live").waitFor();
      // Connections 1 and 2 of the first process.
      for (let i = 0; i < 2; ++i) {
        const client = connect(before.listen);
        await client.connected;
        const address = `127.0.0.1:${client.socket.localPort}`;
        await client.received;
        await page.locator("#teardowns tr", { hasText: address }).waitFor();
      }
      assert.equal(await page.locator("#teardowns tr").count(), 2);

      await stopFaultline(first);
      await page.locator("#stream-status.down").waitFor();
      // libuv binds with SO_REUSEADDR: the port is free again once the first process is gone.
      second = await startFaultline([], apiAddress);
      const after = await callApi(second.url, "POST", "/proxies", proxy);
      // The stream is open again (its retries start at 1 s) before the new connection ends, so
      // its record comes through the stream after an empty snapshot.
      await page.locator("#stream-status.live").waitFor();

      const client = connect(after.listen);
      await client.connected;
      const address = `127.0.0.1:${client.socket.localPort}`;
      await client.received;
      const row = page.locator("#teardowns tr", { hasText: address });
      await row.waitFor();
      assert.equal(await row.getAttribute("data-teardown"), "1");  // an id the page had seen
      assert.equal(await page.locator("#teardowns tr").count(), 3);  // the old rows stay
      // Polls fail while no faultline listens; the next success clears their message.
      await page.locator('#errors li[data-error-key="poll"]').waitFor({ state: "detached" });
      await assertNoErrorShown(page);
    }, "network");
  } finally {
    try {
      await stopFaultline(first);
    } finally {
      await stopFaultline(second);
    }
  }
});
