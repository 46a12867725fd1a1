//! Running a flow: actions in order, `BOOLEAN_CONDITION` branches, the logic actions, each app
//! action with its connection resolved as it starts; and the record of it all, with secrets
//! scrubbed, `vars` and masked outputs left out.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use flowvault_core::{
    ActionId, Channel, ConnectionId, DeliverySettings, ExecutionStatus, Flow, FlowAction, FlowOp,
    Redactor, SetupType, TenantId, Timestamp,
};
use flowvault_core::{TemplateScope, render_object};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::actions::{self, ActionError, Call, Http};
use crate::credentials::Credentials;
use crate::engine::Engine;

/// What a run starts with. `Debug` shows no values (fields may hold what a user typed).
#[derive(Clone, Default)]
pub struct RunInput {
    /// `fields.*` in templates.
    pub fields: Value,
    /// `context.*` in templates.
    pub context: Value,
}

impl std::fmt::Debug for RunInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInput").finish_non_exhaustive()
    }
}

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// The whole run, at most.
    pub max_duration: Duration,
    /// One `DELAY_FLOW`, at most.
    pub max_delay: Duration,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self { max_duration: Duration::from_secs(60), max_delay: Duration::from_secs(30) }
    }
}

/// How one action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// It did what it was asked.
    Succeeded,
    /// It failed (the record says why).
    Failed,
}

impl ActionStatus {
    /// The recorded word.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
        }
    }
}

/// One action in the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action's id.
    pub id: String,
    /// Its alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// `action`.
    pub action: Cow<'static, str>,
    /// How it ended.
    pub status: ActionStatus,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it took.
    pub duration_ms: u64,
    /// Its params as rendered (secrets scrubbed; `[masked]` for `STORE_VARS`).
    #[serde(default)]
    pub input: Value,
    /// What it gave (secrets scrubbed; absent when `mask_output`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Whether its output was kept out of the record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
}

/// An error in the record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedError {
    /// What happened (secrets scrubbed).
    pub message: String,
    /// The provider's status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// Why a run failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowError {
    /// The action that failed.
    pub action_id: String,
    /// What happened (secrets scrubbed).
    pub message: String,
}

/// The record of one run: what is sealed into the execution, and what its debugger shows.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunRecord {
    /// Each action run, in order.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    /// What `RETURN_JSON` returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FlowError>,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// How it ended.
    pub status: ExecutionStatus,
    /// What happened.
    pub record: RunRecord,
    /// When it started and ended.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Timestamp,
}

/// The state of a run.
struct Run<'a> {
    engine: &'a Engine,
    tenant: &'a TenantId,
    limits: RunLimits,
    fields: Value,
    context: Value,
    /// `{{vars.*}}`: an object.
    vars: Value,
    /// `{{actions.*}}`: an object from action id to output.
    outputs: Value,
    /// The JSON size of `outputs`, held to [`MAX_RUN_OUTPUTS`].
    output_bytes: usize,
    record: RunRecord,
    redactor: Redactor,
    deadline: Instant,
}

/// Whether a run goes on after an action.
enum Next {
    Continue,
    Stop(ExecutionStatus),
}

impl Engine {
    /// Runs `flow` for `input`. Credentials are resolved as each action starts (never cached
    /// across runs); everything recorded has the secrets of the connections used scrubbed out.
    pub async fn run_flow(
        &self,
        tenant: &TenantId,
        flow: &Flow,
        input: RunInput,
        limits: RunLimits,
    ) -> RunOutcome {
        let started_at = self.vault().now();
        let mut run = Run {
            engine: self,
            tenant,
            limits,
            fields: input.fields,
            context: input.context,
            vars: Value::Object(Map::new()),
            outputs: Value::Object(Map::new()),
            output_bytes: 0,
            record: RunRecord::default(),
            redactor: Redactor::default(),
            deadline: Instant::now() + limits.max_duration,
        };
        let status = match run.actions(&flow.actions).await {
            Next::Continue => ExecutionStatus::Completed,
            Next::Stop(status) => status,
        };
        // One pass over the whole record, with every secret the run met (a later action's
        // connection included).
        let mut record = run.record;
        let mut redactor = run.redactor;
        if redactor.overflowed() {
            // More secrets than can be tracked: keep the shape of the run, none of its data.
            for a in &mut record.actions {
                a.input = Value::String(WITHHELD.to_owned());
                a.output = None;
                if let Some(e) = a.error.as_mut() {
                    e.message = WITHHELD.to_owned();
                }
            }
            record.result = record.result.map(|_| Value::String(WITHHELD.to_owned()));
            if let Some(e) = record.error.as_mut() {
                e.message = WITHHELD.to_owned();
            }
        } else {
            for a in &mut record.actions {
                redactor.scrub(&mut a.input);
                if let Some(o) = a.output.as_mut() {
                    redactor.scrub(o);
                }
                if let Some(e) = a.error.as_mut() {
                    e.message = redactor.scrub_str(&e.message).into_owned();
                }
            }
            if let Some(r) = record.result.as_mut() {
                redactor.scrub(r);
            }
            if let Some(e) = record.error.as_mut() {
                e.message = redactor.scrub_str(&e.message).into_owned();
            }
        }
        RunOutcome { status, record, started_at, ended_at: self.vault().now() }
    }
}

impl Run<'_> {
    fn actions<'b>(
        &'b mut self,
        actions: &'b [FlowAction],
    ) -> Pin<Box<dyn Future<Output = Next> + Send + 'b>> {
        Box::pin(async move {
            for action in actions {
                if let Next::Stop(status) = self.action(action).await {
                    return Next::Stop(status);
                }
            }
            Next::Continue
        })
    }

    async fn action(&mut self, action: &FlowAction) -> Next {
        let started = Instant::now();
        let started_at = self.engine.vault().now();
        if Instant::now() >= self.deadline {
            return self.fail(
                action,
                started_at,
                started,
                Value::Null,
                ActionError::new("the flow ran longer than it may"),
                true,
            );
        }
        let scope = TemplateScope {
            fields: &self.fields,
            vars: &self.vars,
            context: &self.context,
            actions: &self.outputs,
            now: started_at,
        };
        let rendered = render_object(&action.params, &scope);
        let params = match rendered {
            Ok(rendered) => {
                // `functions.mask(…)`: the action gets the value, the record never does.
                for value in &rendered.masked {
                    self.redactor.add_value(value);
                }
                // Basic credentials written into an HTTP action are secrets too.
                if let Some(password) = rendered.value.pointer("/basic/password").map(text) {
                    let user =
                        rendered.value.pointer("/basic/username").map(text).unwrap_or_default();
                    self.redactor.add(&password);
                    self.redactor.add_basic(&user, &password);
                }
                // Params that are secrets of their action (the code `VERIFY_CODE` checks).
                for name in actions::secret_params(action.spec.id) {
                    if let Some(value) = rendered.value.get(name) {
                        self.redactor.add_value(value);
                    }
                }
                rendered.value
            }
            Err(e) => {
                let e = ActionError::new(format!("a template of the params failed: {e}"));
                return self.fail(action, started_at, started, Value::Null, e, false);
            }
        };
        let is_vars = action.spec.id == ActionId::Flow(FlowOp::StoreVars);
        let recorded_input =
            if is_vars { Value::String("[masked]".to_owned()) } else { params.clone() };

        let result: Result<(Value, Option<Next>), ActionError> = match action.spec.id {
            ActionId::Flow(FlowOp::BooleanCondition) => {
                let taken = truthy(params.get("if").unwrap_or(&Value::Null));
                let output = json!({ "result": taken });
                self.set_output(&action.id, output.clone());
                self.succeed(action, started_at, started, recorded_input, output);
                let branch = if taken { &action.then } else { &action.otherwise };
                return self.actions(branch).await;
            }
            ActionId::Flow(FlowOp::StoreVars) => match params.get("vars") {
                Some(Value::Object(new)) => {
                    for (k, v) in new {
                        self.redactor.add_value(v);
                        if let Some(vars) = self.vars.as_object_mut() {
                            vars.insert(k.clone(), v.clone());
                        }
                    }
                    Ok((Value::Null, None))
                }
                _ => Err(ActionError::new("param `vars` must be an object")),
            },
            ActionId::Flow(FlowOp::ReturnJson) => {
                let payload = params.get("payload").cloned().unwrap_or(Value::Null);
                self.record.result = Some(payload.clone());
                Ok((payload, Some(Next::Stop(ExecutionStatus::Completed))))
            }
            ActionId::Flow(FlowOp::ErrorMessage) => {
                // Ends the flow, whatever `allow_failure` says (as in Auth0).
                let message = params.get("message").map(text).unwrap_or_default();
                let e = ActionError::new(if message.is_empty() {
                    "the flow ended with an error".to_owned()
                } else {
                    message
                });
                return self.fail(action, started_at, started, recorded_input, e, true);
            }
            ActionId::Flow(FlowOp::DoNothing) => Ok((Value::Null, None)),
            ActionId::Flow(FlowOp::MapValue) => {
                let input = params.get("input").map(text).unwrap_or_default();
                let mapped = params.get("cases").and_then(|c| c.get(&input)).cloned();
                let value = mapped
                    .unwrap_or_else(|| params.get("fallback").cloned().unwrap_or(Value::Null));
                Ok((json!({ "result": value }), None))
            }
            ActionId::Flow(FlowOp::DelayFlow) => match delay(&params) {
                Ok(d)
                    if d > self.deadline.saturating_duration_since(Instant::now())
                        && d <= self.limits.max_delay =>
                {
                    Err(ActionError::new(format!(
                        "DELAY_FLOW of {} s would run past the end of the run ({} s at most)",
                        d.as_secs(),
                        self.limits.max_duration.as_secs()
                    )))
                }
                Ok(d) if d <= self.limits.max_delay => {
                    tokio::time::sleep(d).await;
                    Ok((json!({ "delayed_ms": d.as_millis() as u64 }), None))
                }
                Ok(d) => Err(ActionError::new(format!(
                    "DELAY_FLOW of {} s is longer than a run may wait ({} s)",
                    d.as_secs(),
                    self.limits.max_delay.as_secs()
                ))),
                Err(e) => Err(e),
            },
            // Every other action is an app's or a stateless logic type's: `actions::invoke`
            // matches them all.
            _ => self.call(action, &params, started_at).await.map(|v| (v, None)),
        };
        match result {
            Ok((mut output, stop)) => {
                if actions::output_is_secret(action.spec.id) {
                    // A one-time code: later templates read it as it is (it is made to be
                    // sent), the record never shows it.
                    self.redactor.add_value(&output);
                } else {
                    // What a provider echoed of a connection's secret is scrubbed before later
                    // templates can read it (and send it somewhere else).
                    self.redactor.scrub(&mut output);
                }
                let size = json_size(&output);
                if self.output_bytes.saturating_add(size) > MAX_RUN_OUTPUTS {
                    let e = ActionError::new(format!(
                        "the outputs of this run exceed {} MiB",
                        MAX_RUN_OUTPUTS / (1024 * 1024)
                    ));
                    return self.fail(action, started_at, started, recorded_input, e, true);
                }
                self.output_bytes += size;
                self.set_output(&action.id, output.clone());
                self.succeed(action, started_at, started, recorded_input, output);
                stop.unwrap_or(Next::Continue)
            }
            Err(e) => self.fail(action, started_at, started, recorded_input, e, false),
        }
    }

    /// An app or JSON action: the connection resolved now, scopes checked, then the call.
    async fn call(
        &mut self,
        action: &FlowAction,
        params: &Value,
        now: Timestamp,
    ) -> Result<Value, ActionError> {
        // The actions that send through the tenant's delivery settings use the connection the
        // settings name, read now (so a change applies to the next run at once).
        let delivery = match actions::delivery_channel(action.spec.id) {
            Some(channel) => Some((channel, self.delivery_settings(channel).await?)),
            None => None,
        };
        let connection = match &delivery {
            Some((channel, settings)) => settings.connection(*channel).map(|id| id.to_string()),
            None => action.params.get("connection_id").and_then(Value::as_str).map(str::to_owned),
        };
        let credentials = match connection {
            Some(id) => {
                // A token refresh may be slow; the run's limit holds for it too.
                let left = self.deadline.saturating_duration_since(Instant::now());
                let resolving = self.resolve(&id, action, delivery.as_ref().map(|(c, _)| *c));
                match tokio::time::timeout(left, resolving).await {
                    Ok(credentials) => Some(credentials?),
                    Err(_) => {
                        return Err(ActionError::new(format!(
                            "vault connection {id} did not get a token before the end of the run"
                        )));
                    }
                }
            }
            None => None,
        };
        let inner = &self.engine.inner;
        // A provider may take up to 30 s, but not past the end of the run.
        let left = self.deadline.saturating_duration_since(Instant::now());
        let timeout = ACTION_TIMEOUT.min(left).max(Duration::from_secs(1));
        let http = Http::new(inner.transport.as_ref(), &inner.providers, timeout);
        let call = Call {
            spec: action.spec,
            params,
            credentials: credentials.as_ref(),
            delivery: delivery.as_ref().map(|(_, settings)| settings),
            http: &http,
            mx: inner.mx.as_ref(),
            now,
            tenant: self.tenant,
            vault: inner.vault.as_ref(),
        };
        actions::invoke(&call).await
    }

    /// The tenant's delivery settings, which must name a connection for `channel`.
    async fn delivery_settings(&self, channel: Channel) -> Result<DeliverySettings, ActionError> {
        let settings = self.engine.vault().delivery_settings(self.tenant).await.map_err(|e| {
            ActionError::new(format!("the tenant's delivery settings could not be read: {e}"))
        })?;
        if settings.connection(channel).is_none() {
            return Err(actions::delivery_not_configured(channel));
        }
        Ok(settings)
    }

    /// The credentials of connection `id`, for `action`; `delivery` is the channel when the
    /// delivery settings named it (errors then say to update those instead of the flow).
    async fn resolve(
        &mut self,
        id: &str,
        action: &FlowAction,
        delivery: Option<Channel>,
    ) -> Result<Credentials, ActionError> {
        let id: ConnectionId = id
            .parse()
            .map_err(|_| ActionError::new("param `connection_id` is not a connection id"))?;
        let (credentials, secrets) =
            self.engine.credentials_and_secrets(self.tenant, &id).await.map_err(|e| {
                match (e, delivery) {
                    (crate::RefreshError::NotFound, None) => ActionError::new(format!(
                        "vault connection {id} does not exist (it was deleted): update the flow"
                    )),
                    (crate::RefreshError::NotFound, Some(channel)) => ActionError::new(format!(
                        "the {channel} delivery connection {id} does not exist (it was deleted): \
                     update the delivery settings"
                    )),
                    (other, None) => ActionError::new(other.to_string()),
                    (other, Some(channel)) => {
                        ActionError::new(format!("the {channel} delivery connection: {other}"))
                    }
                }
            })?;
        self.redactor.add_known(secrets);
        // Scopes the action needs, checked before anything is sent.
        if credentials.setup.setup_type() == SetupType::OauthCode && !action.spec.scopes.is_empty()
        {
            let granted: Vec<&str> = credentials
                .granted_scopes
                .as_deref()
                .unwrap_or_default()
                .split([' ', ','])
                .collect();
            let missing: Vec<&str> =
                action.spec.scopes.iter().copied().filter(|s| !granted.contains(s)).collect();
            if !missing.is_empty() {
                return Err(ActionError::new(format!(
                    "vault connection {id} was not granted {} that {} {} needs: connect it again",
                    missing.join(" "),
                    action.spec.kind,
                    action.spec.action
                )));
            }
        }
        Ok(credentials)
    }

    fn set_output(&mut self, id: &str, output: Value) {
        if let Some(outputs) = self.outputs.as_object_mut() {
            outputs.insert(id.to_owned(), output);
        }
    }

    fn succeed(
        &mut self,
        action: &FlowAction,
        started_at: Timestamp,
        started: Instant,
        input: Value,
        output: Value,
    ) {
        let is_vars = action.spec.id == ActionId::Flow(FlowOp::StoreVars);
        // Secrets are scrubbed from the whole record when the run ends.
        let input = bounded(input);
        let output = if action.mask_output || is_vars { None } else { Some(bounded(output)) };
        self.record.actions.push(ActionRecord {
            id: action.id.clone(),
            alias: action.alias.clone(),
            kind: Cow::Borrowed(action.spec.kind),
            action: Cow::Borrowed(action.spec.action),
            status: ActionStatus::Succeeded,
            started_at,
            duration_ms: elapsed_ms(started),
            input,
            masked: output.is_none() && (action.mask_output || is_vars),
            output,
            error: None,
        });
    }

    fn fail(
        &mut self,
        action: &FlowAction,
        started_at: Timestamp,
        started: Instant,
        input: Value,
        e: ActionError,
        fatal: bool,
    ) -> Next {
        let input = bounded(input);
        // Scrubbed now (later actions read it), then bounded.
        let message = bounded_message(&self.redactor.scrub_str(&e.message));
        self.record.actions.push(ActionRecord {
            id: action.id.clone(),
            alias: action.alias.clone(),
            kind: Cow::Borrowed(action.spec.kind),
            action: Cow::Borrowed(action.spec.action),
            status: ActionStatus::Failed,
            started_at,
            duration_ms: elapsed_ms(started),
            input,
            output: None,
            masked: action.mask_output,
            error: Some(RecordedError { message: message.clone(), status_code: e.status }),
        });
        // A failed action's output is its error, for actions that look at it.
        self.set_output(
            &action.id,
            json!({ "error": { "message": message.clone(), "status_code": e.status } }),
        );
        if action.allow_failure && !fatal {
            return Next::Continue;
        }
        self.record.error = Some(FlowError { action_id: action.id.clone(), message });
        Next::Stop(ExecutionStatus::Failed)
    }
}

/// The most output (JSON bytes) one run keeps for its templates. With the cap on runs in
/// progress ([`crate::RunCapacity`]), this bounds what runs hold in memory.
const MAX_RUN_OUTPUTS: usize = 8 * 1024 * 1024;

/// An input or output larger than this (JSON bytes) is recorded as its size only.
const MAX_RECORDED_VALUE: usize = 64 * 1024;

/// What a record holds instead of data when the run met too many secrets to redact.
const WITHHELD: &str = "[withheld: the run held more secrets than can be redacted]";

/// The most characters of an error message kept.
const MAX_MESSAGE: usize = 500;

/// An error message cut to [`MAX_MESSAGE`] characters (after secrets were scrubbed from it).
fn bounded_message(message: &str) -> String {
    let mut out: String = message.chars().take(MAX_MESSAGE).collect();
    if message.chars().count() > MAX_MESSAGE {
        out.push('…');
    }
    out
}

/// `value`, or a note of its size if it is too large to record.
fn bounded(value: Value) -> Value {
    let size = json_size(&value);
    if size > MAX_RECORDED_VALUE { json!({ "truncated": true, "bytes": size }) } else { value }
}

/// The length of `value`'s compact JSON.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// The longest a provider may take to answer one action.
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// `true`, `"true"`, a non-zero number, a non-empty array/object/other string → true.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !(s.is_empty() || s.eq_ignore_ascii_case("false") || s == "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn delay(params: &Value) -> Result<Duration, ActionError> {
    let number = match params.get("number") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0)
    .ok_or_else(|| ActionError::new("param `number` must be a non-negative number"))?;
    let unit = match params.get("units").and_then(Value::as_str).unwrap_or("SECONDS") {
        "SECONDS" => 1.0,
        "MINUTES" => 60.0,
        "HOURS" => 3600.0,
        "DAYS" => 86_400.0,
        _ => return Err(ActionError::new("param `units` must be SECONDS, MINUTES, HOURS or DAYS")),
    };
    Ok(Duration::from_secs_f64((number * unit).min(1e9)))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
