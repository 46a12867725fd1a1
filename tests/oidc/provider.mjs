// Test-only OAuth 2.0 / OpenID Connect server for flowvault's end-to-end tests.
//
// Runs the independent `oidc-provider` implementation on 127.0.0.1 with two
// fixed clients and an interaction handler that logs in `user-1` and grants
// consent automatically, so an HTTP client with a cookie jar can walk the
// whole authorization-code flow without a browser.
//
// Environment:
//   OIDC_PORT              port on 127.0.0.1 (required)
//   OIDC_REDIRECT_URI      redirect URI of the `flowvault-code` client
//   OIDC_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 60)
//
// stdout: exactly one JSON line once listening:
//   {"issuer":"…","authorization_endpoint":"…","token_endpoint":"…"}
// Everything else goes to stderr.
//
// Extra route: GET /_stats -> {"refresh_token_reuse":n,"refresh_grants":n,
//   "client_credentials_grants":n,"authorization_code_grants":n}

import crypto from 'node:crypto';
import http from 'node:http';

// Never die because whoever reads our pipes went away.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

// stdout is reserved for the single JSON line. oidc-provider prints its
// notices with console.info (stdout), so send every console method to stderr
// before the library is loaded (hence the dynamic import below).
for (const method of ['log', 'info', 'debug']) {
  console[method] = (...args) => console.error(...args);
}

function fail(message, err) {
  process.stderr.write(`oidc test provider: ${message}${err ? `: ${err.stack || err}` : ''}\n`);
  process.exit(1);
}

const ACCOUNT_ID = 'user-1';
const API_RESOURCE = 'https://api.flowvault.test';
const API_SCOPE = 'api:read';

function readConfig() {
  const portRaw = process.env.OIDC_PORT;
  if (!portRaw || !/^\d+$/.test(portRaw) || Number(portRaw) < 1 || Number(portRaw) > 65535) {
    fail(`OIDC_PORT must be a TCP port number, got ${JSON.stringify(portRaw)}`);
  }
  const ttlRaw = process.env.OIDC_ACCESS_TOKEN_TTL ?? '60';
  if (!/^\d+$/.test(ttlRaw) || Number(ttlRaw) < 1) {
    fail(`OIDC_ACCESS_TOKEN_TTL must be a positive integer, got ${JSON.stringify(ttlRaw)}`);
  }
  let redirectUri = process.env.OIDC_REDIRECT_URI;
  if (!redirectUri) {
    redirectUri = 'http://127.0.0.1:1/unused-callback';
    process.stderr.write(`oidc test provider: OIDC_REDIRECT_URI not set, using ${redirectUri}\n`);
  } else if (!URL.canParse(redirectUri)) {
    fail(`OIDC_REDIRECT_URI is not an absolute URL: ${JSON.stringify(redirectUri)}`);
  }
  return { port: Number(portRaw), ttl: Number(ttlRaw), redirectUri };
}

const { port, ttl, redirectUri } = readConfig();
const issuer = `http://127.0.0.1:${port}`;

let Provider;
let errors;
try {
  ({ default: Provider, errors } = await import('oidc-provider'));
} catch (err) {
  fail('cannot load oidc-provider (run `npm ci --prefix tests/oidc` first)', err);
}

const stats = {
  refresh_token_reuse: 0,
  refresh_grants: 0,
  client_credentials_grants: 0,
  authorization_code_grants: 0,
};

// Ephemeral ID Token signing key (instead of the library's published dev keys).
const signingKey = {
  ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: 'flowvault-oidc-test',
  use: 'sig',
  alg: 'RS256',
};

const configuration = {
  jwks: { keys: [signingKey] },
  clients: [
    {
      client_id: 'flowvault-cc',
      client_secret: 'cc-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'flowvault-code',
      client_secret: 'code-secret',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  scopes: ['openid', 'offline_access', API_SCOPE],
  claims: { openid: ['sub'] },

  async findAccount(ctx, sub) {
    if (sub !== ACCOUNT_ID) return undefined;
    return {
      accountId: ACCOUNT_ID,
      async claims() {
        return { sub: ACCOUNT_ID };
      },
    };
  },

  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No `resource` parameter (flowvault never sends one) -> the API.
      async defaultResource(ctx, client, oneOf) {
        return oneOf ?? API_RESOURCE;
      },
      // useGrantedResource stays at its default (false): authorization-code
      // and refresh access tokens (no `resource` in the token request, `openid`
      // requested) are then issued with the full granted scope
      // "openid offline_access api:read", which flowvault compares against
      // what it asked for. With `true` they would be API-audience tokens whose
      // `scope` is only "api:read".
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== API_RESOURCE) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        return {
          scope: API_SCOPE,
          audience: API_RESOURCE,
          accessTokenTTL: ttl,
          accessTokenFormat: 'opaque',
        };
      },
    },
  },

  pkce: {
    // flowvault always sends code_challenge/S256; enforce it for the code client.
    required: (ctx, client) => client.clientId === 'flowvault-code',
  },

  // Always issue a refresh token to clients allowed to use the grant
  // (the default would additionally require the offline_access scope).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Every refresh consumes the presented token and issues a new one;
  // presenting a consumed one fails with invalid_grant and revokes the grant.
  rotateRefreshToken: true,
  // Tokens are not tied to the (cookie) session of the automated login.
  async expiresWithSession() {
    return false;
  },

  ttl: {
    AccessToken: ttl,
    ClientCredentials: ttl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 60 * 60,
    Interaction: 3600,
    Session: 14 * 24 * 60 * 60,
    Grant: 14 * 24 * 60 * 60,
  },

  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },

  cookies: {
    keys: ['flowvault-oidc-test-cookie-key'],
    // Plain HTTP on loopback.
    long: { httpOnly: true, sameSite: 'lax', secure: false },
    short: { httpOnly: true, sameSite: 'lax', secure: false },
  },

  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

let provider;
try {
  provider = new Provider(issuer, configuration);
} catch (err) {
  fail('invalid oidc-provider configuration', err);
}

provider.on('grant.success', (ctx) => {
  switch (ctx.oidc?.params?.grant_type) {
    case 'refresh_token': stats.refresh_grants += 1; break;
    case 'client_credentials': stats.client_credentials_grants += 1; break;
    case 'authorization_code': stats.authorization_code_grants += 1; break;
    default: break;
  }
});

provider.on('grant.error', (ctx, err) => {
  const grantType = ctx.oidc?.params?.grant_type;
  process.stderr.write(`oidc test provider: grant.error ${grantType}: ${err.error} (${err.error_detail || err.error_description})\n`);
  if (grantType === 'refresh_token' && err.error === 'invalid_grant') {
    stats.refresh_token_reuse += 1;
  }
});

provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc test provider: server_error: ${err.stack || err}\n`);
});

// Automatic login (user-1) and consent (everything requested).
async function autoInteraction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    throw new Error(`interaction cookie is for ${details.uid}, URL is for ${uid}`);
  }
  const { prompt, params, session } = details;
  let result;

  if (prompt.name === 'login') {
    result = { login: { accountId: ACCOUNT_ID } };
  } else if (prompt.name === 'consent') {
    // Extend the existing grant if there is one (it may have been revoked,
    // e.g. after refresh token reuse: then start a new one).
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing
      ?? new provider.Grant({ accountId: session.accountId, clientId: params.client_id });

    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope?.length) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims?.length) grant.addOIDCClaims(missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    result = { consent: { grantId } };
  } else {
    result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
  }

  process.stderr.write(`oidc test provider: interaction ${uid} prompt=${prompt.name} -> ${Object.keys(result).join(',')}\n`);
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// OpenID Connect Core 1.0 §11: `offline_access` is ignored unless the request
// has `prompt=consent`, and oidc-provider follows that to the letter, so the
// granted scope (and the token response's `scope`) would lack offline_access
// and flowvault would record it as a missing scope. flowvault sends no
// `prompt`, so when it asks for offline_access without one, ask for consent
// on its behalf (the interaction handler grants it automatically anyway).
const authorizationPath = provider.pathFor('authorization');

function withConsentPromptForOfflineAccess(rawUrl) {
  const url = new URL(rawUrl, issuer);
  const scopes = (url.searchParams.get('scope') ?? '').split(' ');
  if (!scopes.includes('offline_access') || url.searchParams.has('prompt')) return rawUrl;
  url.searchParams.set('prompt', 'consent');
  process.stderr.write('oidc test provider: offline_access requested without prompt, adding prompt=consent\n');
  return `${url.pathname}${url.search}`;
}

const providerCallback = provider.callback();

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, issuer);

  if (req.method === 'GET' && pathname === '/_stats') {
    const body = JSON.stringify(stats);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }

  const m = /^\/interaction\/([^/]+)$/.exec(pathname);
  if (req.method === 'GET' && m) {
    autoInteraction(req, res, decodeURIComponent(m[1])).catch((err) => {
      process.stderr.write(`oidc test provider: interaction failed: ${err.stack || err}\n`);
      if (!res.headersSent) {
        const body = JSON.stringify({ error: 'interaction_failed', error_description: String(err.message || err) });
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.end();
      }
    });
    return;
  }

  if (req.method === 'GET' && pathname === authorizationPath) {
    req.url = withConsentPromptForOfflineAccess(req.url);
  }

  providerCallback(req, res);
});

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}`, err));

await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });

let discovery;
try {
  const resp = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${await resp.text()}`);
  discovery = await resp.json();
} catch (err) {
  server.close();
  fail('discovery document not available', err);
}

if (discovery.issuer !== issuer || !discovery.authorization_endpoint || !discovery.token_endpoint) {
  server.close();
  fail(`unexpected discovery document: ${JSON.stringify(discovery)}`);
}

process.stdout.write(`${JSON.stringify({
  issuer: discovery.issuer,
  authorization_endpoint: discovery.authorization_endpoint,
  token_endpoint: discovery.token_endpoint,
})}\n`);

function shutdown(signal) {
  process.stderr.write(`oidc test provider: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// Do not outlive the process that started us (e.g. a test that panicked
// before killing us): exit once we are re-parented.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) shutdown('parent exited');
}, 1000).unref();
