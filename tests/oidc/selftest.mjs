// Self-test for tests/oidc/provider.mjs: `node tests/oidc/selftest.mjs`.
// Spawns the provider on a free port and walks every flow flowvault relies on
// with plain fetch and a minimal cookie jar.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const REDIRECT_URI = 'http://127.0.0.1:1/cb';
const TTL = 42;

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startProvider() {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(here, 'provider.mjs')], {
    env: {
      ...process.env,
      OIDC_PORT: String(port),
      OIDC_REDIRECT_URI: REDIRECT_URI,
      OIDC_ACCESS_TOKEN_TTL: String(TTL),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout });
  const extraStdout = [];
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start in time\n${stderr}`)), 15000);
    lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited with ${code} before listening\n${stderr}`));
    });
  });
  lines.on('line', (line) => extraStdout.push(line));
  const meta = JSON.parse(first);
  return { child, meta, port, extraStdout, stderr: () => stderr };
}

// Minimal cookie jar: name -> value, ignoring path/domain (single host).
class CookieJar {
  #cookies = new Map();

  store(response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.split('=').map((s) => s.trim());
        if (/^max-age$/i.test(k)) return Number(v) <= 0;
        if (/^expires$/i.test(k)) return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function tokenRequest(endpoint, form, basic) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}`;
  const resp = await fetch(endpoint, { method: 'POST', headers, body: new URLSearchParams(form) });
  const body = await resp.json();
  return { status: resp.status, body };
}

const codeClient = (extra) => ({ client_id: 'flowvault-code', client_secret: 'code-secret', ...extra });

const SCOPES = ['openid', 'offline_access', 'api:read'];

// Walks the browser part of the authorization code flow, following redirects
// by hand with `jar`, and returns the code from the redirect to REDIRECT_URI.
async function authorize(meta, jar) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const state = crypto.randomBytes(12).toString('base64url');
  const authUrl = new URL(meta.authorization_endpoint);
  authUrl.search = new URLSearchParams({
    response_type: 'code',
    client_id: 'flowvault-code',
    redirect_uri: REDIRECT_URI,
    scope: SCOPES.join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();

  let url = authUrl.href;
  let finalLocation;
  const hops = [];
  for (let i = 0; i < 20 && !finalLocation; i++) {
    const resp = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(resp);
    const location = resp.headers.get('location');
    assert([302, 303].includes(resp.status) && location, `hop ${i} ${url}: ${resp.status} ${await resp.text()}`);
    const next = new URL(location, url).href;
    hops.push(`${resp.status} ${new URL(url).pathname} -> ${new URL(next).pathname}`);
    if (next.startsWith(REDIRECT_URI)) finalLocation = new URL(next);
    else url = next;
  }
  assert(finalLocation, 'never redirected to the redirect URI');
  assert(!finalLocation.searchParams.get('error'), `authorization error ${finalLocation.search}`);
  assert(finalLocation.searchParams.get('state') === state, 'state mismatch');
  const code = finalLocation.searchParams.get('code');
  assert(code, 'no code');
  return { code, verifier, hops };
}

async function exchange(meta, code, verifier) {
  const { status, body } = await tokenRequest(meta.token_endpoint, codeClient({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
  }));
  assert(status === 200, `code exchange: ${status} ${JSON.stringify(body)}`);
  assert(body.access_token && body.token_type === 'Bearer', `code token ${JSON.stringify(body)}`);
  assert(body.expires_in === TTL, `code expires_in ${body.expires_in}`);
  assert(typeof body.refresh_token === 'string' && body.refresh_token.length > 0, 'no refresh_token');
  assert(SCOPES.every((w) => (body.scope ?? '').split(' ').includes(w)), `code scope "${body.scope}" lacks some of ${SCOPES}`);
  return body;
}

async function refresh(meta, refreshToken) {
  return tokenRequest(meta.token_endpoint, codeClient({ grant_type: 'refresh_token', refresh_token: refreshToken }));
}

async function readStats(meta) {
  return (await fetch(`${meta.issuer}/_stats`)).json();
}

function assertStats(stats, expected) {
  assert(JSON.stringify(stats) === JSON.stringify(expected), `stats ${JSON.stringify(stats)} != ${JSON.stringify(expected)}`);
}

async function main() {
  const provider = await startProvider();
  const { meta } = provider;
  const log = (msg) => process.stderr.write(`selftest: ${msg}\n`);
  try {
    assert(meta.issuer === `http://127.0.0.1:${provider.port}`, `issuer ${meta.issuer}`);
    assert(Object.keys(meta).sort().join() === 'authorization_endpoint,issuer,token_endpoint', `JSON line keys ${Object.keys(meta)}`);
    log(`provider up: ${JSON.stringify(meta)}`);

    // (1) client_credentials, HTTP Basic, with and without scope, no resource.
    for (const form of [{ grant_type: 'client_credentials', scope: 'api:read' }, { grant_type: 'client_credentials' }]) {
      const { status, body } = await tokenRequest(meta.token_endpoint, form, ['flowvault-cc', 'cc-secret']);
      assert(status === 200, `client_credentials ${JSON.stringify(form)}: ${status} ${JSON.stringify(body)}`);
      assert(typeof body.access_token === 'string' && body.access_token.length > 0, 'cc access_token');
      assert(body.token_type === 'Bearer', `cc token_type ${body.token_type}`);
      assert(body.expires_in === TTL, `cc expires_in ${body.expires_in} != ${TTL}`);
      assert(!('refresh_token' in body), 'cc must not get a refresh token');
    }
    {
      const { status, body } = await tokenRequest(meta.token_endpoint, { grant_type: 'client_credentials' }, ['flowvault-cc', 'wrong']);
      assert(status === 401 && body.error === 'invalid_client', `bad cc secret: ${status} ${JSON.stringify(body)}`);
    }
    log('client_credentials ok');

    // (2) authorization code + PKCE S256 with automatic login/consent.
    const jar = new CookieJar();
    const { code, verifier, hops } = await authorize(meta, jar);
    log(`browser flow: ${hops.join(' | ')}`);

    {
      // A wrong verifier must be rejected (PKCE is really checked). Note: a
      // failed exchange consumes nothing, the code stays usable.
      const { status, body } = await tokenRequest(meta.token_endpoint, codeClient({
        grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: crypto.randomBytes(32).toString('base64url'),
      }));
      assert(status === 400 && body.error === 'invalid_grant', `wrong verifier: ${status} ${JSON.stringify(body)}`);
    }

    const t0 = await exchange(meta, code, verifier);
    log(`authorization code ok (scope "${t0.scope}", expires_in ${t0.expires_in}, id_token ${t0.id_token ? 'present' : 'absent'})`);

    // (3) refresh twice, each time a new refresh token.
    const seen = [t0.refresh_token];
    let current = t0.refresh_token;
    for (let i = 1; i <= 2; i++) {
      const { status, body } = await refresh(meta, current);
      assert(status === 200, `refresh ${i}: ${status} ${JSON.stringify(body)}`);
      assert(body.access_token && body.expires_in === TTL, `refresh ${i} body ${JSON.stringify(body)}`);
      assert(body.refresh_token && !seen.includes(body.refresh_token), `refresh ${i} did not rotate`);
      assert(SCOPES.every((w) => (body.scope ?? '').split(' ').includes(w)), `refresh ${i} scope "${body.scope}"`);
      seen.push(body.refresh_token);
      current = body.refresh_token;
    }
    log('refresh rotation ok');

    // (4) reuse the first, rotated-away refresh token.
    {
      const { status, body } = await refresh(meta, seen[0]);
      assert(status === 400 && body.error === 'invalid_grant', `reuse: ${status} ${JSON.stringify(body)}`);
      log(`reuse rejected: ${body.error} (${body.error_description})`);
    }

    // (5) stats.
    const stats = await readStats(meta);
    assertStats(stats, {
      refresh_token_reuse: 1,
      refresh_grants: 2,
      client_credentials_grants: 2,
      authorization_code_grants: 1,
    });
    log(`stats ok: ${JSON.stringify(stats)}`);

    // (6) oidc-provider's reuse detection revokes the whole grant: the latest
    // refresh token is dead too (and counted like a reuse).
    {
      const { status, body } = await refresh(meta, current);
      assert(status === 400 && body.error === 'invalid_grant', `latest after reuse: ${status} ${JSON.stringify(body)}`);
    }

    // (7) Reconnecting with the same cookie jar (session kept, grant revoked)
    // works again: no login, fresh consent, new tokens that refresh.
    {
      const again = await authorize(meta, jar);
      log(`reconnect flow: ${again.hops.join(' | ')}`);
      const t1 = await exchange(meta, again.code, again.verifier);
      const { status, body } = await refresh(meta, t1.refresh_token);
      assert(status === 200 && body.refresh_token && body.refresh_token !== t1.refresh_token, `refresh after reconnect: ${status} ${JSON.stringify(body)}`);
    }
    const finalStats = await readStats(meta);
    assertStats(finalStats, {
      refresh_token_reuse: 2,
      refresh_grants: 3,
      client_credentials_grants: 2,
      authorization_code_grants: 2,
    });
    log('revocation after reuse and reconnect ok');

    assert(provider.extraStdout.length === 0, `unexpected stdout: ${provider.extraStdout.join('\n')}`);

    // SIGTERM shuts it down cleanly.
    const exit = new Promise((resolve) => provider.child.once('exit', (c, s) => resolve([c, s])));
    provider.child.kill('SIGTERM');
    const [exitCode, signal] = await exit;
    assert(exitCode === 0, `provider exit after SIGTERM: code ${exitCode} signal ${signal}`);

    console.log(`oidc selftest OK: provider ${meta.issuer}, stats ${JSON.stringify(finalStats)}`);
  } catch (err) {
    process.stderr.write(`--- provider stderr ---\n${provider.stderr()}\n`);
    provider.child.kill('SIGTERM');
    throw err;
  }
}

main().catch((err) => {
  console.error(`oidc selftest FAILED: ${err.stack || err}`);
  process.exit(1);
});
