// faultline's API driven by the real Toxiproxy client from npm (toxiproxy-node-client): what the
// client offers must work against faultline unchanged. Started by CTest with FAULTLINE_BINARY.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { Toxiproxy } = require("toxiproxy-node-client");

let server;
let child;
let toxiproxy;
let apiUrl;

// A TCP server that echoes, as the proxies' upstream.
function startEcho() {
  return new Promise((resolve) => {
    const s = net.createServer((socket) => {
      socket.on("error", () => {});  // faultline resets its connections when it stops
      socket.pipe(socket);
    });
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

function startFaultline() {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.env.FAULTLINE_BINARY,
                       ["serve", "--api", "127.0.0.1:0", "--log-format", "json"],
                       { stdio: ["ignore", "ignore", "pipe"] });
    const lines = readline.createInterface({ input: proc.stderr });
    const timer = setTimeout(() => reject(new Error("faultline did not start")), 10000);
    lines.on("line", (line) => {
      let event;
      try { event = JSON.parse(line); } catch { return; }
      if (event.event === "listening" && event.kind === "api") {
        clearTimeout(timer);
        resolve({ proc, api: `http://${event.address}` });
      }
    });
    proc.on("exit", (code) => reject(new Error(`faultline exited with ${code}`)));
  });
}

function roundTrip(address, text) {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.slice(address.lastIndexOf(":") + 1)];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(Number(port), host, () => socket.write(text));
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error("timeout")); });
    socket.on("data", (data) => { socket.end(); resolve({ data: data.toString(), ms: Date.now() - started }); });
    socket.on("error", reject);
  });
}

async function statusOf(promise) {
  try { await promise; return 200; } catch (e) { return Number(/status code (\d+)/.exec(e.message)?.[1] ?? 0); }
}

before(async () => {
  server = await startEcho();
  const started = await startFaultline();
  child = started.proc;
  apiUrl = started.api;
  toxiproxy = new Toxiproxy(started.api);
});

after(() => {
  child?.kill("SIGTERM");
  server?.close();
});

test("version, create, get, list, update, disable and enable on the same port, delete", async () => {
  assert.match(await toxiproxy.getVersion(), /"version"/);
  const upstream = `127.0.0.1:${server.address().port}`;
  const proxy = await toxiproxy.createProxy({ name: "echo", listen: "127.0.0.1:0", upstream });
  assert.equal(proxy.name, "echo");
  assert.equal(proxy.upstream, upstream);
  assert.doesNotMatch(proxy.listen, /:0$/);
  assert.equal((await roundTrip(proxy.listen, "ping")).data, "ping");

  const fetched = await toxiproxy.get("echo");
  assert.equal(fetched.listen, proxy.listen);
  assert.deepEqual(Object.keys(await toxiproxy.getAll()), ["echo"]);

  const disabled = await proxy.update({ enabled: false, listen: proxy.listen, upstream });
  assert.equal(disabled.enabled, false);
  await assert.rejects(roundTrip(proxy.listen, "x"));
  const enabled = await proxy.update({ enabled: true, listen: proxy.listen, upstream });
  assert.equal(enabled.listen, proxy.listen);
  assert.equal((await roundTrip(proxy.listen, "back")).data, "back");

  assert.equal(await statusOf(toxiproxy.createProxy({ name: "echo", listen: "127.0.0.1:0", upstream })), 409);
  assert.equal(await statusOf(toxiproxy.get("missing")), 404);
  await proxy.remove();
  assert.deepEqual(await toxiproxy.getAll(), {});
});

test("each Toxiproxy toxic type is added, read back, updated and removed", async () => {
  const upstream = `127.0.0.1:${server.address().port}`;
  const proxy = await toxiproxy.createProxy({ name: "toxic", listen: "127.0.0.1:0", upstream });
  const types = {
    latency: { latency: 10, jitter: 1 },
    bandwidth: { rate: 1000 },
    slow_close: { delay: 10 },
    timeout: { timeout: 1000 },
    slicer: { average_size: 10, size_variation: 2, delay: 5 },
    limit_data: { bytes: 1000 },
    reset_peer: { timeout: 1000 },
  };
  for (const [type, attributes] of Object.entries(types)) {
    const toxic = await proxy.addToxic({ type, stream: "upstream", toxicity: 1, attributes });
    assert.equal(toxic.name, `${type}_upstream`);
    for (const [key, value] of Object.entries(attributes)) assert.equal(toxic.attributes[key], value);
    const read = await proxy.getToxic(`${type}_upstream`);
    assert.equal(read.type, type);
    const first = Object.keys(attributes)[0];
    const updated = await read.update({ toxicity: 0.5, attributes: { ...attributes, [first]: attributes[first] + 1 } });
    assert.equal(updated.toxicity, 0.5);
    assert.equal(updated.attributes[first], attributes[first] + 1);
    await updated.remove();
    assert.equal(await statusOf(proxy.getToxic(`${type}_upstream`)), 404);
  }
  await proxy.remove();
});

test("a latency toxic slows an echo; populate and reset", async () => {
  const upstream = `127.0.0.1:${server.address().port}`;
  const proxies = await toxiproxy.populate([
    { name: "one", listen: "127.0.0.1:0", upstream },
    { name: "two", listen: "127.0.0.1:0", upstream },
  ]);
  assert.deepEqual(Object.keys(proxies).sort(), ["one", "two"]);
  const one = await toxiproxy.get("one");
  await one.addToxic({ type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 150, jitter: 0 } });
  assert.ok((await roundTrip(one.listen, "slow")).ms >= 145);
  await toxiproxy.reset();
  const after = await (await fetch(`${apiUrl}/proxies/one`)).json();
  assert.equal(after.toxics.length, 0);
  assert.ok((await roundTrip(one.listen, "fast")).ms < 145);
});
