// End-to-end login through a real OpenID provider (the certified `oidc-provider`
// package) on loopback: the serve example is started with OIDC flags, a user is
// provisioned over SCIM, the test drives the provider's own login and consent forms like
// a browser, and the callback says who logged in. Then the refusals: a deactivated user,
// a user never provisioned, a forged state, and a callback delivered to a browser that
// did not begin the login (login CSRF).
//
// Usage: node tests/e2e/oidc_login.mjs <path to the serve binary>
import Provider from 'oidc-provider';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, fail, finish, freePort, sleep } from '../support/harness.mjs';

const serveBin = process.argv[2];
// --- the relying party: the serve example with OIDC login ------------------------------
const idpPort = await freePort();
const servePort = await freePort();
const issuer = `http://127.0.0.1:${idpPort}`;
const tmp = mkdtempSync(join(tmpdir(), 'libscim-e2e-'));
const credsPath = join(tmp, 'creds.json');
const clientSecret = 'e2e-secret-' + Math.random().toString(36).slice(2);
const serve = spawn(serveBin, [
  '--listen', `127.0.0.1:${servePort}`,
  '--data', join(tmp, 'data'),
  '--idp', 'okta',
  '--domain', 'example.com',
  '--credentials-file', credsPath,
  '--oidc-config-url', `${issuer}/.well-known/openid-configuration`,
  '--client-id', 'libscim-e2e',
  '--client-secret', clientSecret,
  '--oidc-allow-http',
], { stdio: ['ignore', 'pipe', 'inherit'] });
serve.stdout.on('data', () => {});

let idpServer;
try {
  let creds;
  for (let i = 0; i < 150 && !creds; i++) {
    await sleep(100);
    try {
      const c = JSON.parse(readFileSync(credsPath, 'utf8'));
      if (c.redirect_uri && c.token) creds = c;
    } catch {}
  }
  if (!creds) throw new Error('serve did not write its credentials');
  for (let i = 0; i < 50; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${servePort}/healthz`)).ok) break;
    } catch {}
    await sleep(100);
  }
  check(creds.login_url && creds.redirect_uri.startsWith(creds.login_url), 'credentials carry login_url and redirect_uri');

  // --- the OpenID provider, with a static client for that redirect URI ----------------
  const accounts = {
    alice: { sub: 'alice', email: 'Alice@Example.com', email_verified: true, name: 'Alice Liddell' },
    bob: { sub: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob' },
  };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'libscim-e2e',
      client_secret: clientSecret,
      redirect_uris: [creds.redirect_uri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { email: ['email', 'email_verified'], profile: ['name'] },
    // Put the scopes' claims in the ID token, as Okta and Entra do for `email profile`.
    conformIdTokenClaims: false,
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    cookies: { keys: ['e2e-cookie-key'] },
    pkce: { required: () => true },
    async findAccount(ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, async claims() { return claims; } };
    },
  });
  idpServer = provider.listen(idpPort);

  // --- SCIM: provision alice as Okta would -------------------------------------------
  const scim = (method, path, body) => fetch(`${creds.tenant_url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${creds.token}`, 'Content-Type': 'application/scim+json' },
    body: body && JSON.stringify(body),
  });
  const created = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'alice@example.com',
    externalId: '00u-alice',
    name: { givenName: 'Alice', familyName: 'Liddell' },
    emails: [{ value: 'alice@example.com', type: 'work', primary: true }],
    active: true,
  });
  check(created.status === 201, `provision alice: ${created.status}`);
  const alice = await created.json();

  // --- a browser: cookies, redirects, and the provider's forms ------------------------
  // Cookies are kept per host, not per port, as browsers do: the IdP's and serve's
  // (both on 127.0.0.1) share the jar. `deliverTo` takes the callback URL to another
  // browser instead of following it (an attacker's callback in a victim's browser).
  async function browserLogin(account, { jar = new Map(), deliverTo } = {}) {
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const keep = (res) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        jar.set(pair.slice(0, i), pair.slice(i + 1));
      }
    };
    let url = creds.login_url;
    let method = 'GET';
    let body;
    for (let hop = 0; hop < 20; hop++) {
      const isCallback = url.startsWith(creds.redirect_uri);
      if (isCallback && deliverTo) return deliverTo(url);
      const res = await fetch(url, {
        method,
        body,
        redirect: 'manual',
        headers: {
          ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
          ...(jar.size ? { Cookie: cookieHeader() } : {}),
          ...(isCallback ? { Accept: 'application/json' } : {}),
        },
      });
      keep(res);
      if (isCallback) return { status: res.status, json: await res.json() };
      method = 'GET';
      body = undefined;
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location'), url).toString();
        continue;
      }
      const html = await res.text();
      const form = html.match(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/);
      if (!form) throw new Error(`no form at ${url}: ${res.status} ${html.slice(0, 200)}`);
      const fields = new URLSearchParams();
      for (const input of form[2].matchAll(/<input[^>]*>/g)) {
        const name = input[0].match(/name="([^"]+)"/)?.[1];
        const value = input[0].match(/value="([^"]*)"/)?.[1] ?? '';
        if (name) fields.set(name, value);
      }
      if (fields.has('login')) fields.set('login', account);
      if (fields.has('password')) fields.set('password', 'any');
      url = new URL(form[1], url).toString();
      method = 'POST';
      body = fields.toString();
    }
    throw new Error('too many hops');
  }

  const ok = await browserLogin('alice');
  check(ok.status === 200, `alice logs in: ${ok.status} ${JSON.stringify(ok.json)}`);
  check(ok.json.user?.email === 'alice@example.com', 'the mapped record is the provisioned user');
  check(ok.json.user?.externalId === '00u-alice', 'the record carries the externalId');
  check(ok.json.claims?.sub === 'alice' && ok.json.claims?.iss === issuer, 'validated claims are returned');

  const stranger = await browserLogin('bob');
  check(stranger.status === 403 && stranger.json.error === 'not_provisioned', `bob is refused: ${JSON.stringify(stranger.json)}`);

  const off = await scim('PATCH', `/Users/${alice.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', value: { active: false } }],
  });
  check(off.status === 200, 'deactivate alice over SCIM');
  const refused = await browserLogin('alice');
  check(refused.status === 403 && refused.json.error === 'user_deactivated', `deactivated alice is refused: ${JSON.stringify(refused.json)}`);

  // A callback with a state the server never issued, from a browser that began no login.
  const forged = await fetch(`${creds.redirect_uri}?code=x&state=forged`, { headers: { Accept: 'application/json' } });
  const forgedBody = await forged.json();
  check(forged.status === 400 && forgedBody.error === 'state_mismatch', `a forged state is refused: ${JSON.stringify(forgedBody)}`);

  // Login CSRF: bob completes the IdP's login in his own browser and sends his callback
  // to the victim, whose browser began its own login (so it has a login cookie).
  const victim = new Map();
  const begun = await fetch(creds.login_url, { redirect: 'manual' });
  for (const c of begun.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    victim.set(pair.slice(0, i), pair.slice(i + 1));
  }
  check(begun.status === 302 && victim.has('libscim_login'), 'beginning a login sets the login cookie');
  const csrf = await browserLogin('bob', {
    deliverTo: async (url) => {
      const res = await fetch(url, {
        headers: { Accept: 'application/json', Cookie: [...victim].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      return { status: res.status, json: await res.json() };
    },
  });
  check(csrf.status === 400 && csrf.json.error === 'state_mismatch', `a callback in another browser is refused: ${JSON.stringify(csrf.json)}`);
} catch (e) {
  fail(e.stack || e);
} finally {
  serve.kill('SIGTERM');
  idpServer?.close();
  await new Promise((r) => (serve.exitCode !== null ? r() : serve.on('exit', r)));
  if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}
finish('oidc e2e');
