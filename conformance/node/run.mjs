// Runs a bound conformance suite through the connector component transpiled by jco, on
// Node.js, and prints one JSON line per case in the same form as the wasmtime runner:
// {"name": ..., "outcome": {"ok": <result>} | {"error": {"case", "message"}} | {"failure": "..."}}.
//
// usage: node run.mjs <transpiled connector.js> <bound suite.json> <api address> <public token>
// The private token comes from DARKTRACE_PRIVATE_TOKEN, never from the command line.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [modulePath, suitePath, apiAddress, publicToken] = process.argv.slice(2);
const privateToken = process.env.DARKTRACE_PRIVATE_TOKEN ?? '';
const { generic } = await import(pathToFileURL(modulePath).href);
const suite = JSON.parse(readFileSync(suitePath, 'utf8'));
const connection = { apiAddress, publicToken, privateToken };

for (const c of suite.cases) {
  let outcome;
  try {
    const out = generic.invoke(connection, c.action, JSON.stringify(c.input ?? {}));
    outcome = { ok: JSON.parse(out) };
  } catch (e) {
    // jco throws a WIT `result` error as a ComponentError whose payload is the variant.
    if (e && e.payload && typeof e.payload.tag === 'string') {
      const val = e.payload.val;
      const message = typeof val === 'string' ? val : (val && val.message) || JSON.stringify(val);
      outcome = { error: { case: e.payload.tag, message } };
    } else {
      outcome = { failure: String(e && e.stack || e) };
    }
  }
  process.stdout.write(JSON.stringify({ name: c.name, outcome }) + '\n');
}
