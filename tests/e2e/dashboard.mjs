// Drives flowvault's dashboard in Chromium: the scenarios of a person using it, the attacks a
// page must resist, and axe-core's accessibility rules. Started by crates/cli/tests/it/dashboard.rs,
// which runs the server and the fake provider and passes their addresses in the environment.
// Prints one JSON line: {"ok": true, "steps": [...]}; any failure throws (exit code 1).

import { spawnSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env("FV_BASE");
const SETUP_LINK = env("FV_SETUP_LINK");
const TWILIO_SID = env("FV_TWILIO_SID");
const TWILIO_TOKEN = env("FV_TWILIO_TOKEN");
const SHOTS = env("FV_SHOTS");
const BIN = env("FV_BIN");
const DATA_DIR = env("FV_DATA_DIR");
const CHROMIUM = process.env.FV_CHROMIUM || "/usr/bin/chromium";

const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const VIEWER = { email: "viewer@example.com", password: "viewer horse battery staple" };
// Typed into forms; must never come back in any page.
const SLACK_WEBHOOK = "https://hooks.slack.com/services/T0E2E/B0E2E/e2eWebhookSecret" + Date.now();
const SECRETS = [TWILIO_TOKEN, SLACK_WEBHOOK, ADMIN.password, VIEWER.password];

const steps = [];
const step = (name) => { steps.push(name); };
const fail = (message) => { throw new Error(`${steps.at(-1) ?? "start"}: ${message}`); };
const check = (cond, message) => { if (!cond) fail(message); };

const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});

const htmlSeen = [];
const consoleProblems = [];
async function newPage(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, baseURL: BASE });
  const page = await context.newPage();
  page.on("response", async (r) => {
    const type = r.headers()["content-type"] || "";
    if (type.startsWith("text/html")) {
      try { htmlSeen.push({ url: r.url(), body: await r.text() }); } catch { /* navigated away */ }
    }
  });
  page.on("console", (m) => {
    // Error statuses of pages the test asks for on purpose are logged as failed loads.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleProblems.push(m.text());
  });
  page.on("pageerror", (e) => consoleProblems.push(String(e)));
  return page;
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    fail(`axe found on ${name}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`).join("; "));
  }
}

async function shots(page, name) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${SHOTS}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function badge(page, scope) {
  return page.locator(`${scope} [data-status]`).first().getAttribute("data-status");
}

async function signIn(page, who) {
  await page.goto("/signin");
  await page.getByLabel("E-mail address").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/vault$/);
}

try {
  // 1. First sign-in, through the one-time link serve printed.
  step("first sign-in");
  const admin = await newPage();
  const vaultResponse = await admin.goto(SETUP_LINK);
  check(vaultResponse.status() === 200, `setup page answered ${vaultResponse.status()}`);
  await admin.getByLabel("E-mail address").fill(ADMIN.email);
  await admin.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await admin.getByLabel("Password again").fill(ADMIN.password);
  await admin.getByRole("button", { name: "Create admin and sign in" }).click();
  await admin.waitForURL(/\/vault$/);
  const cookies = await admin.context().cookies();
  const session = cookies.find((c) => c.name === "fv_session");
  check(session && session.httpOnly && session.sameSite === "Strict", `session cookie: ${JSON.stringify(session)}`);
  const reused = await admin.context().request.get(SETUP_LINK);
  check(reused.status() === 404, `the first-admin link works twice (${reused.status()})`);

  step("security headers");
  const headers = (await admin.context().request.get("/vault")).headers();
  const csp = headers["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && !csp.includes("unsafe-inline"), `CSP: ${csp}`);
  check(csp.includes("frame-ancestors 'none'"), `CSP: ${csp}`);
  check(headers["x-frame-options"] === "DENY", `X-Frame-Options: ${headers["x-frame-options"]}`);
  // Only the wizard may be framed, by this site: the flow editor's "+" dialog shows it.
  const wizardHeaders = (await admin.context().request.get("/vault/new")).headers();
  check(wizardHeaders["content-security-policy"].includes("frame-ancestors 'self'"), "the wizard can't be framed by the editor");
  check(headers["referrer-policy"] === "same-origin", `Referrer-Policy: ${headers["referrer-policy"]}`);

  // 2. A Twilio connection through the wizard: green.
  step("wizard: Twilio");
  await admin.getByRole("link", { name: "+ Add Vault Connection" }).first().click();
  await admin.waitForURL(/\/vault\/new$/);
  await admin.getByLabel("Search apps").fill("twil");
  check(await admin.locator("a[data-app=SLACK]").isHidden(), "the app search does not filter");
  await axe(admin, "wizard (apps)");
  await shots(admin, "wizard-apps");
  await admin.locator("a[data-app=TWILIO]").click();
  await admin.getByLabel("Connection name").fill("Twilio production");
  await admin.getByLabel("Account SID").fill(TWILIO_SID);
  await admin.getByLabel("Auth token").fill(TWILIO_TOKEN);
  check(await admin.getByLabel("Auth token").getAttribute("type") === "password", "the auth token is not a password input");
  await axe(admin, "wizard (credentials)");
  await shots(admin, "wizard");
  await admin.getByRole("button", { name: "Add Vault Connection" }).click();
  await admin.waitForURL(/\/vault\/ac_[A-Za-z0-9]+\?done=created$/);
  const twilioId = admin.url().match(/ac_[A-Za-z0-9]+/)[0];
  check(await badge(admin, ".page-head") === "ready", "the new Twilio connection is not ready");
  await admin.goto("/vault");
  check(await badge(admin, `li[data-connection=${twilioId}]`) === "ready", "the vault page does not show it green");

  // 3. An empty Slack connection: orange, then filled in: green.
  step("wizard: empty Slack");
  await admin.goto("/vault/new");
  await admin.locator("a[data-app=SLACK]").click();
  await admin.getByRole("link", { name: "Webhook URL" }).click();
  await admin.getByLabel("Connection name").fill("Slack alerts");
  await admin.getByRole("button", { name: "Create an empty connection" }).click();
  await admin.waitForURL(/\/vault\/ac_[A-Za-z0-9]+\?done=created$/);
  const slackId = admin.url().match(/ac_[A-Za-z0-9]+/)[0];
  check(await badge(admin, ".page-head") === "empty", "the empty connection is not marked empty");
  await admin.goto("/vault");
  const slackRow = `li[data-connection=${slackId}]`;
  check(await badge(admin, slackRow) === "empty", "the vault page does not show the empty connection");
  const orange = await admin.locator(`${slackRow} .badge`).evaluate((e) => getComputedStyle(e).backgroundColor);
  check(orange === "rgb(255, 240, 214)", `the missing-credentials badge is not orange: ${orange}`);
  await admin.locator(`${slackRow} a.conn-name`).click();
  await admin.getByLabel("Webhook URL").fill(SLACK_WEBHOOK);
  await admin.getByRole("button", { name: "Save credentials" }).click();
  await admin.waitForURL(/done=updated$/);
  check(await badge(admin, ".page-head") === "ready", "the filled-in connection is not ready");
  await admin.goto("/vault");
  check(await badge(admin, slackRow) === "ready", "the vault page does not show it green");
  await axe(admin, "vault");
  await shots(admin, "vault");

  // 4. A flow: Send SMS with Twilio, its connection made with "+", saved, run, debugged.
  step("flow editor");
  await admin.goto("/flows");
  await admin.getByLabel("New flow name").fill("Notify by SMS");
  await admin.getByRole("button", { name: "Create flow" }).click();
  await admin.waitForURL(/\/flows\/af_[A-Za-z0-9]+$/);
  const flowUrl = admin.url();
  await admin.getByLabel("Add an action").selectOption({ label: "Twilio: Send SMS" });
  await admin.getByRole("button", { name: "Add action" }).click();
  await admin.getByLabel("message", { exact: true }).fill("Your code is {{ fields.code }}");
  await admin.getByLabel("to", { exact: true }).fill("{{ fields.phone }}");
  step("flow editor: + creates a connection in place");
  await admin.getByRole("link", { name: "Add a Twilio connection" }).click();
  const frame = admin.frameLocator("#connection-dialog iframe");
  await frame.getByLabel("Connection name").fill("Twilio for SMS");
  await frame.getByLabel("Account SID").fill(TWILIO_SID);
  await frame.getByLabel("Auth token").fill(TWILIO_TOKEN);
  await frame.getByRole("button", { name: "Add Vault Connection" }).click();
  await admin.locator("#connection-dialog").waitFor({ state: "hidden" });
  const select = admin.getByLabel("Vault connection", { exact: true });
  const chosen = await select.inputValue();
  check(/^ac_/.test(chosen) && chosen !== twilioId, `the new connection is not selected (${chosen})`);
  check(await admin.getByLabel("message", { exact: true }).inputValue() === "Your code is {{ fields.code }}", "an unsaved edit was lost");
  await admin.getByLabel("from", { exact: true }).fill("+15005550006");
  await admin.getByRole("button", { name: "Save flow" }).click();
  await admin.getByText("Saved. The next run uses this version.").waitFor();
  await axe(admin, "flow editor");
  await shots(admin, "flow-editor");

  step("run and debugger");
  await admin.getByLabel("Test fields (JSON object)").fill('{"phone": "+15005550009", "code": "482913"}');
  await admin.getByRole("button", { name: "Run flow" }).click();
  await admin.waitForURL(/\/executions\/exc_[A-Za-z0-9]+$/);
  const runStatus = await admin.locator(".page-head [data-run-status]").getAttribute("data-run-status");
  check(runStatus === "completed", `the run ${runStatus}: ${await admin.locator("main").innerText()}`);
  const output = await admin.locator(".debug-action pre.json").nth(1).innerText();
  check(output.includes('"sid"'), `the debugger shows no output: ${output}`);
  await axe(admin, "debugger");
  await shots(admin, "debugger");

  // 5. Deleting a connection in use shows the flows it would break.
  step("delete shows impact");
  await admin.goto(`/vault/${chosen}`);
  await admin.getByRole("link", { name: "Delete connection…" }).click();
  const impact = await admin.locator("#impact").innerText();
  check(impact.includes("Notify by SMS"), `the delete page does not name the flow: ${impact}`);

  // 6. A request without the CSRF token is refused, and changes nothing.
  step("CSRF");
  const forged = await admin.context().request.post(`/vault/${chosen}/delete`, { form: { x: "1" }, maxRedirects: 0 });
  check(forged.status() === 403, `a delete without the CSRF token answered ${forged.status()}`);
  check((await admin.context().request.get(`/vault/${chosen}`)).status() === 200, "the connection is gone");

  // 7. A viewer sees and can't change; the server refuses the same requests forged.
  step("viewer");
  const made = spawnSync(BIN, ["users", "create", "--email", VIEWER.email, "--role", "viewer", "--password-stdin"], {
    input: VIEWER.password + "\n", env: { ...process.env, FLOWVAULT_DATA_DIR: DATA_DIR }, encoding: "utf8",
  });
  check(made.status === 0, `users create: ${made.stderr}`);
  const viewer = await newPage();
  await signIn(viewer, VIEWER);
  check(await viewer.getByRole("link", { name: "+ Add Vault Connection" }).count() === 0, "a viewer is offered to add connections");
  await viewer.goto(`/vault/${twilioId}`);
  check(await viewer.locator("main form").count() === 0, "a viewer is shown forms on a connection");
  check((await viewer.goto("/vault/new")).status() === 403, "a viewer reaches the wizard");
  // A viewer's own page holds a valid CSRF token (in the sign-out form): forged requests carry it.
  await viewer.goto("/vault");
  const viewerCsrf = await viewer.locator("input[name=_csrf]").first().getAttribute("value");
  const req = viewer.context().request;
  const attempts = [
    [`/vault/new/TWILIO`, { type: "API_KEY", name: "forged", intent: "empty" }],
    [`/vault/${twilioId}/delete`, {}],
    [`/vault/${twilioId}`, { intent: "rename", name: "renamed by a viewer" }],
    [new URL(flowUrl).pathname, { op: "save", name: "renamed", count: "0" }],
    [new URL(flowUrl).pathname + "/run", { fields: "{}" }],
  ];
  for (const [path, form] of attempts) {
    const r = await req.post(path, { form: { _csrf: viewerCsrf, ...form }, maxRedirects: 0 });
    check(r.status() === 403, `a viewer's POST ${path} answered ${r.status()}`);
  }
  const stillThere = await (await admin.context().request.get(`/vault/${twilioId}`)).text();
  check(stillThere.includes("Twilio production"), "a viewer's forged request changed the connection");

  // 8. No secret typed anywhere appears in any page's HTML.
  step("no secret in any page");
  for (const path of ["/vault", `/vault/${twilioId}`, `/vault/${slackId}`, `/vault/${chosen}`, new URL(flowUrl).pathname]) {
    htmlSeen.push({ url: path, body: await (await admin.context().request.get(path)).text() });
  }
  for (const { url, body } of htmlSeen) {
    for (const secret of SECRETS) {
      check(!body.includes(secret), `a secret typed into a form appears in ${url}`);
    }
  }
  check(htmlSeen.length > 20, `only ${htmlSeen.length} pages were checked`);

  step("no script errors");
  check(consoleProblems.length === 0, `console: ${consoleProblems.join(" | ")}`);

  console.log(JSON.stringify({ ok: true, steps, pages_checked: htmlSeen.length }));
} finally {
  await browser.close();
}
