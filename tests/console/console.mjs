// The console in a real browser: Debian's chromium driven by playwright-core against the
// serve example on loopback. Sign in with the admin credential serve wrote; create a
// directory through the wizard and read its tenant URL and token from the page;
// provision users over SCIM and find them on the users page (search, paging) with their
// UEM and Access records; regenerate the token and see the old one refused over SCIM;
// push a group and see its members; watch the activity page update by itself. Each page
// is saved as a screenshot and checked not to be blank.
//
// Usage: node tests/console/console.mjs <serve binary> <screenshot directory>
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, fail, finish, freePort, sleep } from '../support/harness.mjs';

const [serveBin, shotsDir] = process.argv.slice(2);
if (!serveBin || !shotsDir) {
  console.error('usage: node tests/console/console.mjs <serve binary> <screenshot directory>');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Generous: a loaded 2-core CI machine.
const WAIT = 30000;

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const tmp = mkdtempSync(join(tmpdir(), 'libscim-console-'));
const credsPath = join(tmp, 'creds.json');
const serve = spawn(serveBin, [
  '--listen', `127.0.0.1:${port}`,
  '--data', join(tmp, 'data'),
  '--credentials-file', credsPath,
  '--quiet',
], { stdio: ['ignore', 'ignore', 'inherit'] });

let browser;
try {
  let creds;
  for (let i = 0; i < 300 && !creds; i++) {
    await sleep(100);
    try {
      const c = JSON.parse(readFileSync(credsPath, 'utf8'));
      if (c.admin_credential && c.token) creds = c;
    } catch {}
  }
  if (!creds) throw new Error('serve did not write its credentials (with admin_credential)');
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await sleep(100);
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The test may run as root (CI containers), where chromium's sandbox cannot start.
    args: ['--no-sandbox'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    // A CSP violation is reported on the console: the policy must not block the console.
    // (A refused request, which the test makes on purpose, is reported there too.)
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
  });

  // A screenshot of the page, saved and checked not blank: decoded in the browser (a
  // blank page has one colour), at least a few hundred colours and a real PNG size.
  const checker = await context.newPage();
  async function shot(name) {
    await page.evaluate(() => document.fonts.ready);
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(join(shotsDir, `${name}.png`), png);
    const colours = await checker.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set();
      for (let i = 0; i < data.length; i += 4) {
        seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      }
      return seen.size;
    }, png.toString('base64'));
    check(png.length > 10000, `${name}.png is a real screenshot (${png.length} bytes)`);
    check(colours > 50, `${name}.png is not blank (${colours} colours)`);
  }
  mkdirSync(shotsDir, { recursive: true });

  // --- the console's files and their policy ------------------------------------------
  const index = await fetch(`${base}/admin`);
  check(index.status === 200, `GET /admin: 200 (got ${index.status})`);
  const csp = index.headers.get('content-security-policy') || '';
  check(/script-src 'self'/.test(csp), `/admin has a CSP with script-src 'self' (got "${csp}")`);
  check((await fetch(`${base}/admin/console.js`)).headers.get('content-security-policy') === csp,
    'the script is served with the same policy');
  check((await fetch(`${base}/admin/nothing-here`)).status === 404, 'an unknown console page: 404');

  // --- sign in: refused with a wrong credential and with a SCIM token ----------------
  await page.goto(`${base}/admin`);
  await page.locator('#credential').waitFor();
  await shot('signin');
  for (const [wrong, what] of [['not-the-credential', 'a wrong credential'], [creds.token, 'a SCIM token']]) {
    await page.fill('#credential', wrong);
    await page.click('button[type=submit]');
    const error = page.getByTestId('signin-error');
    await error.waitFor();
    check((await error.textContent()).includes('not the admin credential'), `sign-in with ${what} is refused`);
    check(await page.evaluate(() => sessionStorage.getItem('libscim.admin')) === null, `${what} is not kept`);
  }
  await page.fill('#credential', creds.admin_credential);
  await page.click('button[type=submit]');
  await page.getByTestId('directories').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('libscim.admin')) === creds.admin_credential,
    'the credential is kept in sessionStorage');
  await page.getByTestId('directory-row').first().waitFor();
  check((await page.getByTestId('directories').textContent()).includes('Lab Directory'),
    'the directories page lists serve\'s directory');
  await shot('directories');

  // --- the wizard ----------------------------------------------------------------------
  await page.getByTestId('new-directory').click();
  await page.getByTestId('wizard').waitFor();
  await page.fill('#name', 'Console Test');
  await page.fill('#domain', 'console.example');
  await page.selectOption('#idp', 'entra');
  await page.selectOption('#lifespan', '12');
  await shot('wizard');
  await page.click('[data-testid=wizard] button[type=submit]');
  const tenantInput = page.getByTestId('tenant-url');
  await tenantInput.waitFor();
  const tenantUrl = await tenantInput.inputValue();
  const token = await page.getByTestId('token').inputValue();
  check(tenantUrl.startsWith(`${base}/scim/v2/`), `the tenant URL names the bound port (${tenantUrl})`);
  check(token.length > 20 && token !== creds.token, 'a new token is shown');
  check((await page.getByTestId('token-card').textContent()).includes('lifespan 12 months'),
    'the token has the lifespan chosen in the wizard');
  const dirId = tenantUrl.split('/').pop();
  check(page.url().endsWith(`#/dir/${dirId}`), 'the wizard ends on the directory page');

  // The OIDC settings: email/email by default, the redirect URI to copy once saved.
  check(await page.inputValue('#claim') === 'email' && await page.inputValue('#attribute') === 'email',
    'the claim and attribute default to email/email');
  await page.fill('#clientId', 'console-client');
  await page.fill('#clientSecret', 'console-secret');
  await page.fill('#configUrl', 'https://login.console.example/.well-known/openid-configuration');
  await page.click('[data-testid=oidc-form] button[type=submit]');
  const redirect = page.getByTestId('redirect-uri');
  await redirect.waitFor();
  const redirectUri = await redirect.inputValue();
  check(redirectUri.startsWith(base) && redirectUri.includes(dirId) && redirectUri.endsWith('/callback'),
    `the redirect URI to copy (${redirectUri})`);
  check(await page.inputValue('#clientId') === 'console-client', 'the saved client id is shown');
  await shot('directory');

  // --- SCIM with the token read from the page -------------------------------------------
  const scim = (method, path, body, bearer = token) => fetch(`${tenantUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/scim+json' },
    body: body && JSON.stringify(body),
  });
  const newUser = (name, extra = {}, bearer = token) => scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `${name}@console.example`,
    externalId: `00u-${name}`,
    name: { givenName: name, familyName: 'Tester' },
    emails: [{ value: `${name}@console.example`, type: 'work', primary: true }],
    active: true,
    ...extra,
  }, bearer);
  const annResp = await newUser('ann', { externalId: '00u-ann', displayName: 'Ann Tester' });
  check(annResp.status === 201, `SCIM POST /Users with the page's token: 201 (got ${annResp.status})`);
  const ann = await annResp.json();
  // A display name that would be markup if the page inserted it as HTML.
  const hostile = '<img src=x onerror="window.__xss=1"><b>bold</b>';
  const bobResp = await newUser('bob', { displayName: hostile });
  const bob = await bobResp.json();
  check(bobResp.status === 201, `SCIM POST bob: 201 (got ${bobResp.status} ${JSON.stringify(bob)})`);
  for (let i = 1; i <= 23; i++) {
    const r = await newUser(`user${String(i).padStart(2, '0')}`);
    if (r.status !== 201) check(false, `SCIM POST user${i}: ${r.status} ${await r.text()}`);
  }

  await page.goto(`${base}/admin#/dir/${dirId}/users`);
  await page.getByTestId('user-row').first().waitFor();
  const users = page.getByTestId('users');
  check((await users.textContent()).includes('ann@console.example'), 'ann is on the users page');
  check(await page.getByTestId('user-row').count() === 20, 'the first page has 20 users');
  check((await page.getByTestId('page-info').textContent()) === '1–20 of 25', 'paging: 1–20 of 25');
  check((await users.textContent()).includes(hostile), 'a display name with markup is shown as text');
  check(await page.evaluate(() => window.__xss) === undefined && (await page.locator('[data-testid=users] img').count()) === 0,
    'markup in data is never parsed');
  await shot('users');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('[data-testid=users][data-start="21"]').waitFor();
  check((await page.getByTestId('page-info').textContent()) === '21–25 of 25', 'paging: 21–25 of 25');
  check(await page.getByTestId('user-row').count() === 5, 'the second page has the last 5 users');

  // Search: a word, then a SCIM filter, then a filter the engine refuses.
  const search = async (q) => {
    await page.fill('input[name=q]', q);
    await page.getByRole('button', { name: 'Search' }).click();
  };
  await search('ann');
  await page.locator('[data-testid=users][data-query="ann"]').waitFor();
  check((await page.getByTestId('page-info').textContent()) === '1–1 of 1', 'search by a word: one user');
  check((await users.textContent()).includes('ann@console.example'), 'search by a word finds ann');
  await search('externalId eq "00u-bob"');
  await page.locator('[data-testid=users][data-query="externalId eq \\"00u-bob\\""]').waitFor();
  check((await page.getByTestId('page-info').textContent()) === '1–1 of 1', 'search by a SCIM filter: one user');
  check((await page.getByTestId('users').textContent()).includes('bob@console.example'), 'a SCIM filter finds bob');
  await search('userName eq');
  const searchError = page.getByTestId('search-error');
  await searchError.waitFor();
  check((await searchError.textContent()).length > 0, 'an invalid filter is reported on the page');

  // The user page: the UEM and Access records and the user's events.
  await page.goto(`${base}/admin#/dir/${dirId}/users/${ann.id}`);
  await page.getByTestId('record-uem').locator('table').waitFor();
  const uem = await page.getByTestId('record-uem').textContent();
  const access = await page.getByTestId('record-access').textContent();
  check(uem.includes('ann@console.example'), 'the UEM record of ann is shown');
  check(access.includes('ann@console.example'), 'the Access record of ann is shown');
  await page.getByTestId('event-row').first().waitFor();
  check((await page.getByTestId('events').textContent()).includes('user.created'), 'ann\'s user.created event is shown');
  await shot('user');

  // --- regenerate: the old token is refused over SCIM at once --------------------------
  await page.goto(`${base}/admin#/dir/${dirId}`);
  await page.getByTestId('regenerate').waitFor();
  check((await page.locator('[data-testid=token]').count()) === 0, 'the token is not shown again on a later visit');
  await page.selectOption('#regen-lifespan', '3');
  await page.getByTestId('regenerate').click();
  await page.getByTestId('token').waitFor();
  const newToken = await page.getByTestId('token').inputValue();
  check(dialogs.some((m) => m.includes('stops working')), 'regenerating asks for confirmation');
  check(newToken && newToken !== token, 'regenerate shows a new token');
  check((await page.getByTestId('token-card').textContent()).includes('lifespan 3 months'), 'with the new lifespan');
  const oldRefused = await scim('GET', '/Users?count=1', undefined, token);
  check(oldRefused.status === 401, `the old token is refused over SCIM: 401 (got ${oldRefused.status})`);
  const newAccepted = await scim('GET', '/Users?count=1', undefined, newToken);
  check(newAccepted.status === 200, `the new token works: 200 (got ${newAccepted.status})`);

  // --- a group with members ---------------------------------------------------------------
  const groupResp = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Console Engineers',
    members: [{ value: ann.id }, { value: bob.id }],
  }, newToken);
  check(groupResp.status === 201, `SCIM POST /Groups: 201 (got ${groupResp.status})`);
  const group = await groupResp.json();
  await page.goto(`${base}/admin#/dir/${dirId}/groups`);
  await page.getByTestId('group-row').first().waitFor();
  check((await page.getByTestId('groups').textContent()).includes('Console Engineers'), 'the group is on the groups page');
  await shot('groups');
  await page.getByRole('link', { name: 'Console Engineers' }).click();
  await page.getByTestId('member-row').first().waitFor();
  check(page.url().endsWith(`/groups/${group.id}`), 'the group page');
  const members = await page.getByTestId('members').textContent();
  check(await page.getByTestId('member-row').count() === 2, 'the group page lists its 2 members');
  check(members.includes(ann.id) && members.includes(bob.id), 'the members are ann and bob');
  check(members.includes('ann@console.example') && members.includes('bob@console.example'),
    'the members are named by their userName');
  await shot('group');

  // --- activity, live -----------------------------------------------------------------------
  await page.goto(`${base}/admin#/activity`);
  await page.getByTestId('activity-row').first().waitFor();
  const activity = page.getByTestId('activity');
  check((await activity.textContent()).includes(`POST /scim/v2/${dirId}/Groups`), 'the group push is in the activity');
  check((await activity.textContent()).includes('user.created'), 'change events are in the activity');
  check(!(await activity.textContent()).includes(newToken), 'no token in the activity');
  const before = await page.getByTestId('activity-row').count();
  const liveResp = await newUser('live', {});
  check(liveResp.status === 401, 'a write with the old token is refused');
  const live = await newUser('live', {}, newToken);
  check(live.status === 201, `SCIM POST live: 201 (got ${live.status} ${await live.clone().text()})`);
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid=activity-row]').length > n
      && document.querySelector('[data-testid=activity]').textContent.includes('live@console.example'),
    before,
  );
  check(true, 'the activity page shows a new request and event without a reload');
  check(await page.locator('[data-testid=activity-row][data-kind=request]', { hasText: '401' }).count() > 0,
    'the refused write with the old token shows as a 401 request');
  await shot('activity');

  // --- token warnings -------------------------------------------------------------------------
  // A revoked token: the banner on every page says the directory cannot be provisioned.
  const admin = (method, path) => fetch(`${base}/admin/api${path}`, {
    method, headers: { Authorization: `Bearer ${creds.admin_credential}` },
  });
  check((await admin('DELETE', `/directories/${dirId}/token`)).status === 204, 'token revoked over the admin API');
  await page.goto(`${base}/admin#/directories`);
  const warning = page.getByTestId('token-warning');
  await warning.waitFor();
  check((await warning.textContent()).includes('Console Test'), 'the banner names the directory without a token');

  // --- sign out ---------------------------------------------------------------------------
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#credential').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('libscim.admin')) === null, 'sign-out forgets the credential');

  check(pageErrors.length === 0, `no script errors or policy violations in the page: ${pageErrors.join(' | ')}`);
} catch (e) {
  fail(e.stack || e);
} finally {
  if (browser) await browser.close();
  serve.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}

finish('console');
