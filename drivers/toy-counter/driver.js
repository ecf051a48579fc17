// A toy driver in JavaScript (Node.js): the smallest thing that speaks meshcheck's driver protocol
// (docs/driver-protocol.md) and passes `meshcheck driver conform`. Each node keeps a counter: a
// client's write adds one and tells every other node, which adds one too; a read answers the
// count. It is not a correct replicated counter (a duplicated message counts twice); it is here
// to show how little a driver needs: read a line, answer a line.
"use strict";
const readline = require("readline");

// `--bug clock`: a read answers the count plus the wall clock's parity (a driver that reads a
// clock, whose runs do not replay); `--bug silent`: a request for an unknown node is answered
// as if it were fine. Each makes one row of `meshcheck driver conform` fail (tests/test_driver_conform.py).
const bugs = new Set();
for (let k = 2; k < process.argv.length; k += 2) {
  if (process.argv[k] !== "--bug" || !["clock", "silent"].includes(process.argv[k + 1])) {
    process.stderr.write(`usage: driver.js [--bug clock|silent]... (not ${process.argv.slice(k).join(" ")})\n`);
    process.exit(2);
  }
  bugs.add(process.argv[k + 1]);
}

let nodes = [];
let count = {};

function did(node, writes, sends, steps, replies) {
  return { done: { writes, sends, steps, replies } };
}

function answer(req) {
  if (req.call === "hello") {
    nodes = req.nodes;
    count = {};
    return { driver: "toy-counter", protocol: 1, take: false };
  }
  const i = req.node;
  if (!nodes.includes(i)) {
    return bugs.has("silent") ? { state: {}, done: {} } : { error: `${req.call}.node: '${i}' is not a node` };
  }
  if (req.call === "boot") {
    count[i] = req.persisted.count ? req.persisted.count.value : 0;
    return did(i, [], [], [], []);
  }
  if (!(i in count)) return { error: `${req.call}.node: ${i} was never booted` };
  const put = () => [{ put: "count", value: count[i] }];
  switch (req.call) {
    case "submit": {
      if (req.read) {
        const result = count[i] + (bugs.has("clock") ? Date.now() % 2 : 0);
        return did(i, [], [], [], [{ request: req.request, result, error: "" }]);
      }
      count[i] += 1;
      const sends = nodes.filter((j) => j !== i).map((j) => ({ to: j, message: { inc: 1 } }));
      const step = { action: "Increment", params: { i }, sends: sends.map((_, k) => k) };
      return did(i, put(), sends, [step], [{ request: req.request, result: count[i], error: "" }]);
    }
    case "deliver":
      count[i] += 1;
      return did(i, put(), [], [{ action: "Receive", params: { i, j: req.source } }], []);
    case "fire":
      return { error: `fire: this driver sets no timer` };
    case "take":
      return { took: false, done: {} };
    case "state":
      return { state: { count: count[i] } };
    case "applied":
      return { count: count[i], digest: count[i].toString(16).padStart(2, "0") };
  }
  return { error: `no call '${req.call}'` };
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let out;
  try {
    out = answer(JSON.parse(line));
  } catch (e) {
    out = { error: `not a request: ${e.message}` };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
