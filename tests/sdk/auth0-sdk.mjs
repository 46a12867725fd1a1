// Auth0's Management API SDK (npm `auth0`, v4), pointed at flowvault instead of Auth0.
// Environment: FLOWVAULT_DOMAIN (host:port), FLOWVAULT_CLIENT_ID, FLOWVAULT_CLIENT_SECRET, and
// NODE_EXTRA_CA_CERTS trusting flowvault's test certificate. Exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { ManagementClient } from 'auth0';

const domain = process.env.FLOWVAULT_DOMAIN;
const management = new ManagementClient({
  domain,
  clientId: process.env.FLOWVAULT_CLIENT_ID,
  clientSecret: process.env.FLOWVAULT_CLIENT_SECRET,
});
const steps = [];
const step = (name) => steps.push(name);

function assertConnection(c, { name, app_id, ready }) {
  assert.match(c.id, /^ac_[0-9A-Za-z]{22}$/);
  assert.equal(c.name, name);
  assert.equal(c.app_id, app_id);
  assert.equal(c.ready, ready);
  assert.ok(c.fingerprint.length > 0);
  assert.ok(!Number.isNaN(Date.parse(c.created_at)));
  assert.ok(!Number.isNaN(Date.parse(c.updated_at)));
  assert.equal(c.setup, undefined, 'setup must never be returned');
}

// The token: the SDK posts client credentials to https://{domain}/oauth/token.
const { data: empty } = await management.flows.createConnection({ name: 'Alerts later', app_id: 'SLACK' });
assertConnection(empty, { name: 'Alerts later', app_id: 'SLACK', ready: false });
step('token + createConnection (empty)');

const setup = { type: 'API_KEY', account_id: 'AC0123456789abcdef0123456789abcdef', api_key: 'sdk-secret-token' };
const { data: twilio } = await management.flows.createConnection({ name: 'SMS', app_id: 'TWILIO', setup });
assertConnection(twilio, { name: 'SMS', app_id: 'TWILIO', ready: true });
assert.ok(!JSON.stringify(twilio).includes('sdk-secret-token'));
step('createConnection (TWILIO)');

const { data: all } = await management.flows.getAllConnections();
assert.ok(Array.isArray(all));
assert.deepEqual(all.map((c) => c.id).sort(), [empty.id, twilio.id].sort());
step('getAllConnections');

const { data: page } = await management.flows.getAllConnections({ include_totals: true, per_page: 1, page: 1 });
assert.equal(page.total, 2);
assert.equal(page.start, 1);
assert.equal(page.limit, 1);
assert.equal(page.connections.length, 1);
step('getAllConnections include_totals');

const { data: one } = await management.flows.getConnection({ id: twilio.id });
assert.deepEqual(one, twilio);
step('getConnection');

const { data: renamed } = await management.flows.updateConnection({ id: twilio.id }, { name: 'SMS (prod)' });
assertConnection(renamed, { name: 'SMS (prod)', app_id: 'TWILIO', ready: true });
assert.equal(renamed.fingerprint, twilio.fingerprint);
const { data: filled } = await management.flows.updateConnection(
  { id: empty.id },
  { setup: { type: 'WEBHOOK', url: 'https://hooks.slack.com/services/T000/B000/XXXX' } },
);
assertConnection(filled, { name: 'Alerts later', app_id: 'SLACK', ready: true });
step('updateConnection');

await management.flows.deleteConnection({ id: empty.id });
await assert.rejects(management.flows.getConnection({ id: empty.id }), (err) => {
  assert.equal(err.statusCode, 404);
  return true;
});
const { data: left } = await management.flows.getAllConnections();
assert.deepEqual(left.map((c) => c.id), [twilio.id]);
step('deleteConnection');

// The SDK surfaces flowvault's Auth0-shaped errors.
await assert.rejects(management.flows.createConnection({ name: 'x', app_id: 'FAX' }), (err) => {
  assert.equal(err.statusCode, 400);
  assert.match(err.message, /app_id/);
  return true;
});
step('errors');

console.log(JSON.stringify({ ok: true, steps }));
