"""schemathesis hooks for flowvault's document (loaded by run.py through SCHEMATHESIS_HOOKS).

- A PATCH of a vault connection that replaces `setup` is aimed at a connection of an app that
  setup belongs to: the document can't tie a path id to an app, so valid generated setups would
  otherwise meet connections of other apps and be refused, rightly.
"""

import json
import os

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st

IDS = json.loads(os.environ.get("FLOWVAULT_FUZZ_IDS", "{}"))
DOC = None
if os.environ.get("FLOWVAULT_FUZZ_DOC"):
    with open(os.environ["FLOWVAULT_FUZZ_DOC"]) as f:
        DOC = json.load(f)


def _apps_of(setup):
    schemas = (DOC or {}).get("components", {}).get("schemas", {})
    for app, conn_id in IDS.get("by_app", {}).items():
        for name, schema in schemas.items():
            if name.startswith(f"Setup{app}") and jsonschema_rs.validator_for(schema).is_valid(setup):
                yield conn_id
                break


def _fit_actions(actions, seen):
    """Gives each generated action what the document can't say: an id unique in the flow, and a
    connection of its own app."""
    if not isinstance(actions, list):
        return
    for action in actions:
        if not isinstance(action, dict):
            continue
        if isinstance(action.get("id"), str):
            base, n = action["id"], 1
            while action["id"] in seen:
                action["id"] = f"{base[:58]}_{n}"
                n += 1
            seen.add(action["id"])
        params = action.get("params")
        if isinstance(params, dict):
            if action.get("type") == "HTTP":
                # A credentialed HTTP request must spell out its URL's host and its headers (a
                # template may not choose where credentials go): the uncredentialed form is the
                # one whose every generated shape is valid.
                params.pop("connection_id", None)
            elif "connection_id" in params and action.get("type") in IDS.get("by_app", {}):
                params["connection_id"] = IDS["by_app"][action["type"]]
            for value in params.values():
                # Actions nested in a condition's branches.
                if isinstance(value, list):
                    _fit_actions(value, seen)


# The apps whose connections each delivery channel sends through.
DELIVERY_APPS = {"email": "SENDGRID", "sms": "TWILIO", "voice": "TWILIO"}


@schemathesis.hook
def map_case(ctx, case):
    op = ctx.operation
    if op is None:
        return case
    route = (op.method.upper(), op.path)
    if route == ("DELETE", "/api/v2/flows/vault/connections/{id}"):
        # The connections flows and settings are generated against stay: deleting one would make
        # later valid requests name a connection that is gone (400, rightly).
        if (case.path_parameters or {}).get("id") in set(IDS.get("by_app", {}).values()):
            case.path_parameters = {**case.path_parameters, "id": "ac_0000000000000000000000"}
    if not case.meta or not case.meta.generation.mode.is_positive:
        return case
    body = case.body if isinstance(case.body, dict) else {}
    if route == ("PATCH", "/api/v2/flows/vault/connections/{id}") and isinstance(body.get("setup"), dict):
        target = next(_apps_of(body["setup"]), None)
        if target is not None:
            case.path_parameters = {**(case.path_parameters or {}), "id": target}
    if route in {("POST", "/api/v2/flows"), ("PATCH", "/api/v2/flows/{id}")}:
        _fit_actions(body.get("actions"), set())
    if route == ("PUT", "/api/v2/flows/vault/delivery"):
        # A valid channel names a connection of its app in this tenant.
        for channel, app in DELIVERY_APPS.items():
            if isinstance(body.get(channel), dict) and app in IDS.get("by_app", {}):
                body[channel]["connection_id"] = IDS["by_app"][app]
    return case


# Template strings: plain text, or text around the expressions flows use. The grammar is the
# engine's (docs/flows.md); these are a sample of it that always parses.
_TEXT = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_"), max_size=24)
_EXPRESSIONS = st.sampled_from([
    "{{fields.name}}", "{{fields.email ?? 'nobody@example.com'}}", "{{vars.greeting}}",
    "{{context.user.id}}", "{{fields.count ?? 3}}",
])
schemathesis.openapi.format("flowvault-expression", _EXPRESSIONS)
schemathesis.openapi.format(
    "flowvault-template",
    st.one_of(_TEXT, st.tuples(_TEXT, _EXPRESSIONS, _TEXT).map("".join)),
)
schemathesis.openapi.format(
    "flowvault-connection-id",
    st.sampled_from(sorted(IDS.get("by_app", {}).values()) or ["ac_0000000000000000000000"]),
)
