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

// Flows: Auth0's shapes, through the SDK.
const smsAction = {
  id: 'send_sms', alias: 'Send a code', type: 'TWILIO', action: 'SEND_SMS',
  params: { connection_id: twilio.id, from: '+15005550006', to: '{{fields.phone}}', message: 'Code {{fields.code}}' },
};
const { data: flow } = await management.flows.create({ name: 'Verify phone', actions: [smsAction] });
assert.match(flow.id, /^af_[0-9A-Za-z]{22}$/);
assert.equal(flow.name, 'Verify phone');
assert.deepEqual(flow.actions, [{ ...smsAction, allow_failure: false, mask_output: false }]);
step('flows.create');

const { data: flows } = await management.flows.getAll();
assert.deepEqual(flows.map((f) => f.id), [flow.id]);
const { data: got } = await management.flows.get({ id: flow.id });
assert.deepEqual(got, flow);
step('flows.getAll + get');

// Deleting a connection a flow uses succeeds, as in Auth0; the flow keeps its action, which
// now names a connection that is gone (the CLI asks first; the API doesn't).
await management.flows.deleteConnection({ id: twilio.id });
await assert.rejects(management.flows.getConnection({ id: twilio.id }), (err) => {
  assert.equal(err.statusCode, 404);
  return true;
});
const { data: kept } = await management.flows.get({ id: flow.id });
assert.equal(kept.actions[0].params.connection_id, twilio.id);
step('deleteConnection of a connection a flow uses');

const logic = [{ id: 'done', type: 'FLOW', action: 'RETURN_JSON', params: { payload: { hello: '{{fields.name}}' } } }];
const { data: updated } = await management.flows.update({ id: flow.id }, { name: 'Say hello', actions: logic });
assert.equal(updated.name, 'Say hello');
assert.equal(updated.actions[0].id, 'done');
step('flows.update');

// Running is flowvault's extension (no SDK method): plain HTTP with a token of the same client.
const tokenResponse = await fetch(`https://${domain}/oauth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    grant_type: 'client_credentials',
    client_id: process.env.FLOWVAULT_CLIENT_ID,
    client_secret: process.env.FLOWVAULT_CLIENT_SECRET,
  }),
});
const { access_token: token } = await tokenResponse.json();
const ran = await fetch(`https://${domain}/api/v2/flows/${flow.id}/executions?wait=true`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ fields: { name: 'Ada' } }),
});
assert.equal(ran.status, 200);
const execution = await ran.json();
assert.equal(execution.status, 'completed');
assert.deepEqual(execution.result, { hello: 'Ada' });
step('run (extension)');

const { data: executions } = await management.flows.getAllExecutions({ flow_id: flow.id });
assert.deepEqual(executions.map((e) => e.id), [execution.id]);
const { data: checkpoint } = await management.flows.getAllExecutions({ flow_id: flow.id, take: 1 });
assert.deepEqual(checkpoint.executions.map((e) => e.id), [execution.id]);
const { data: detail } = await management.flows.getExecution({ flow_id: flow.id, execution_id: execution.id, hydrate: ['debug'] });
assert.equal(detail.id, execution.id);
assert.equal(detail.status, 'completed');
assert.equal(detail.debug.actions[0].id, 'done');
step('getAllExecutions + getExecution');

await management.flows.deleteExecution({ flow_id: flow.id, execution_id: execution.id });
await management.flows.delete({ id: flow.id });
await assert.rejects(management.flows.get({ id: flow.id }), (err) => {
  assert.equal(err.statusCode, 404);
  return true;
});
step('deleteExecution + delete');

console.log(JSON.stringify({ ok: true, steps }));
