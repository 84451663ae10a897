// What the Node end-to-end scripts share (tests/e2e/oidc_login.mjs,
// tests/console/console.mjs): a tally of checks, a free loopback port, a sleep.
import { createServer } from 'node:net';

const counts = { passed: 0, failed: 0 };

/** Count `cond`; name `what` on stderr when it is false. */
export function check(cond, what) {
  if (cond) counts.passed++;
  else fail(what);
}

/** Count a failure that is not a check (an exception), named by `what`. */
export function fail(what) {
  counts.failed++;
  console.error(`FAILED: ${what}`);
}

/** Print `<name>: N passed, M failed` and exit, 1 after any failure. */
export function finish(name) {
  console.log(`${name}: ${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
