#!/usr/bin/env python3
"""Writes the two catalogs of Auth0's Management API document as Rust data, so validation equals
the document's instead of being written by hand:

    python3 scripts/gen-action-catalog.py ../shared/specs/auth0_management_api.yml actions \
        > crates/core/src/flow/actions.rs
    python3 scripts/gen-action-catalog.py ../shared/specs/auth0_management_api.yml setups \
        > crates/core/src/catalog/apps.rs

(then `cargo fmt`; the reduced copy in tests/contracts/auth0_flows.json holds the same schemas.)

`actions`: every action of Auth0's `FlowAction` union, as an enum per action type and one
`ActionId` over them, with the rules of each action's params (`FlowAction…Params` schemas).
Keywords carried over: type (one, or a list with "null"), enum, required, properties,
additionalProperties, items, minLength/maxLength, minItems/maxItems, maxProperties,
minimum/maximum, oneOf, format (`email`, `forms-expression`, `flows-vault-connections-id`).

`setups`: every app of `CreateFlowsVaultConnectionRequestContent` with its setup types and
fields (`FlowsVaultConnectio…Setup…` schemas). Keywords carried over: required (`type`
included), additionalProperties, minLength/maxLength, enum, format (`forms-url-https`,
`hostname-rfc2181`, `email`). What the document does not say comes from the tables below:
display names, labels, which fields are secret, flowvault's format hints (warnings, not
errors), its extra fields, the fields it needs to work, and its length limits where the
document sets none (as the names of constants in `catalog/mod.rs`). Apps that are flowvault's
own (not in the document) come from `EXTENSION_APPS`, written in the document's terms, and are
marked `extension: true`.
"""
import json
import sys

import yaml

# OAuth scopes each action needs from an OAUTH_CODE connection (the document does not say).
SCOPES = {
    ("GOOGLE_SHEETS", "ADD_ROW"): ["https://www.googleapis.com/auth/spreadsheets"],
    ("HUBSPOT", "ENROLL_CONTACT"): ["automation"],
    ("HUBSPOT", "GET_CONTACT"): ["crm.objects.contacts.read"],
    ("HUBSPOT", "UPSERT_CONTACT"): ["crm.objects.contacts.write"],
    ("SALESFORCE", "CREATE_LEAD"): ["api"], ("SALESFORCE", "GET_LEAD"): ["api"],
    ("SALESFORCE", "SEARCH_LEADS"): ["api"], ("SALESFORCE", "UPDATE_LEAD"): ["api"],
    ("SLACK", "POST_MESSAGE"): ["chat:write"],
    ("STRIPE", "ADD_TAX_ID"): ["read_write"], ("STRIPE", "CREATE_CUSTOMER"): ["read_write"],
    ("STRIPE", "CREATE_PORTAL_SESSION"): ["read_write"], ("STRIPE", "DELETE_TAX_ID"): ["read_write"],
    ("STRIPE", "FIND_CUSTOMERS"): ["read_write"], ("STRIPE", "GET_CUSTOMER"): ["read_write"],
    ("STRIPE", "UPDATE_CUSTOMER"): ["read_write"],
}

# flowvault's additions to Auth0's params (accepted on top of the document's): name → (schema,
# required).
EXTRA = {
    # chat.postMessage (OAuth connections) needs a channel; Auth0's schema has webhooks in mind.
    ("SLACK", "POST_MESSAGE"): {"channel": ({"type": "string"}, False)},
    # The document's Mailjet params are two open objects (content | template_id + variables) and
    # name no connection; a Mailjet action needs one like every app action.
    ("MAILJET", "SEND_EMAIL"): {"connection_id": ({"type": "string"}, True)},
}


def pascal(s):
    return "".join(p.capitalize() for p in s.lower().split("_"))


def rust_str(s):
    return json.dumps(s)


class Gen:
    def __init__(self, schemas):
        self.schemas = schemas

    def deref(self, x):
        while isinstance(x, dict) and "$ref" in x:
            x = self.schemas[x["$ref"].split("/")[-1]]
        return x

    def schema(self, x, name=""):
        """The Rust expression of one schema."""
        x = self.deref(x)
        if name == "connection_id":
            return "Schema::Connection"
        if not x:
            return "Schema::Any"
        items = x.get("items")
        if isinstance(items, dict) and items.get("$ref", "").endswith("/FlowAction"):
            return "Schema::Actions"
        if "oneOf" in x or "anyOf" in x:
            branches = [self.schema(b) for b in x.get("oneOf", x.get("anyOf"))]
            # A type beside oneOf (`type: string, oneOf: [email, expression]`) adds nothing the
            # branches don't say.
            return "Schema::OneOf(&[" + ", ".join(branches) + "])"
        if "enum" in x:
            return "Schema::Enum(&[" + ", ".join(rust_str(v) for v in x["enum"]) + "])"
        t = x.get("type")
        if isinstance(t, list):
            parts = [self.schema({**x, "type": one}) for one in t]
            return "Schema::OneOf(&[" + ", ".join(parts) + "])"
        opt = lambda k: f"Some({x[k]})" if k in x else "None"
        if t == "string":
            fmt = x.get("format")
            fmt = f"Some(Format::{pascal(fmt.replace('-', '_'))})" if fmt in (
                "email", "forms-expression") else "None"
            return (f"Schema::String {{ min_len: {opt('minLength')}, max_len: {opt('maxLength')}, "
                    f"format: {fmt} }}")
        if t in ("number", "integer"):
            num = lambda k: f"Some({float(x[k])!r})" if k in x else "None"
            return (f"Schema::Number {{ integer: {'true' if t == 'integer' else 'false'}, "
                    f"min: {num('minimum')}, max: {num('maximum')} }}")
        if t == "boolean":
            return "Schema::Boolean"
        if t == "null":
            return "Schema::Null"
        if t == "array":
            inner = self.schema(items) if isinstance(items, dict) else "Schema::Any"
            return (f"Schema::Array {{ items: &{inner}, min_items: {opt('minItems')}, "
                    f"max_items: {opt('maxItems')} }}")
        if t == "object" or "properties" in x:
            return "Schema::Object(&" + self.object(x) + ")"
        return "Schema::Any"

    def object(self, x, extra=None):
        x = self.deref(x)
        props = dict(x.get("properties", {}))
        required = list(x.get("required", []))
        for name, (schema, needed) in (extra or {}).items():
            props[name] = schema
            if needed:
                required.append(name)
        fields = ", ".join(
            f"Property {{ name: {rust_str(n)}, schema: {self.schema(v, n)} }}"
            for n, v in props.items())
        required = ", ".join(rust_str(r) for r in required)
        additional = x.get("additionalProperties", True) is not False
        max_props = f"Some({x['maxProperties']})" if "maxProperties" in x else "None"
        # An object that must also match exactly one of several shapes (Mailjet's params).
        one_of = ", ".join(self.schema(b) for b in x.get("oneOf", []))
        return (f"ObjectSchema {{ properties: &[{fields}], required: &[{required}], "
                f"additional: {'true' if additional else 'false'}, max_properties: {max_props}, "
                f"one_of: &[{one_of}] }}")

    def params(self, x, extra):
        """An action's params: an object (with, for Mailjet, a oneOf of shapes)."""
        return "Schema::Object(&" + self.object(x, extra) + ")"


def actions(doc):
    schemas = doc["components"]["schemas"]
    gen = Gen(schemas)

    actions = []  # (type, action, params expr)
    for t in schemas["FlowAction"]["oneOf"]:
        group = gen.deref(t)
        for a in group.get("oneOf", [group]):
            a = gen.deref(a)
            kind = a["properties"]["type"]["enum"][0]
            action = a["properties"]["action"]["enum"][0]
            params = a["properties"].get("params")
            params = gen.params(params, EXTRA.get((kind, action))) if params else \
                "Schema::Object(&ObjectSchema { properties: &[], required: &[], additional: false, max_properties: None, one_of: &[] })"
            actions.append((kind, action, params, "params" in a.get("required", [])))
    actions.sort()
    kinds = []
    for k, *_ in actions:
        if k not in kinds:
            kinds.append(k)

    out = []
    w = out.append
    w("//! Every action of Auth0's `FlowAction` union and the rules of its params: generated by")
    w("//! `scripts/gen-action-catalog.py` from Auth0's Management API document. Do not edit by hand.")
    w("")
    w("use super::catalog::ActionSpec;")
    w("use super::schema::{Format, ObjectSchema, Property, Schema};")
    w("")
    for k in kinds:
        ops = [a for kk, a, _, _ in actions if kk == k]
        w(f"/// The actions of `type: {k}`.")
        w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
        w(f"pub enum {pascal(k)}Op {{")
        for a in ops:
            w(f"    /// `{a}`.")
            w(f"    {pascal(a)},")
        w("}")
        w("")
    w("/// One action of the catalog: its type and its action, as the compiler can check.")
    w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
    w("pub enum ActionId {")
    for k in kinds:
        w(f"    /// `type: {k}`.")
        w(f"    {pascal(k)}({pascal(k)}Op),")
    w("}")
    w("")
    w("impl ActionId {")
    w("    /// Every action, in the order of [`ActionSpec::all`].")
    w(f"    pub const ALL: [ActionId; {len(actions)}] = [")
    for k, a, _, _ in actions:
        w(f"        ActionId::{pascal(k)}({pascal(k)}Op::{pascal(a)}),")
    w("    ];")
    w("")
    w("    /// Its place in [`ActionId::ALL`] (and in the catalog).")
    w("    #[must_use]")
    w("    pub const fn index(self) -> usize {")
    w("        match self {")
    for i, (k, a, _, _) in enumerate(actions):
        w(f"            ActionId::{pascal(k)}({pascal(k)}Op::{pascal(a)}) => {i},")
    w("        }")
    w("    }")
    w("")
    w("    /// `type` and `action` as Auth0 writes them.")
    w("    #[must_use]")
    w("    pub const fn names(self) -> (&'static str, &'static str) {")
    w("        match self {")
    for k, a, _, _ in actions:
        w(f"            ActionId::{pascal(k)}({pascal(k)}Op::{pascal(a)}) => ({rust_str(k)}, {rust_str(a)}),")
    w("        }")
    w("    }")
    w("}")
    w("")
    w("/// Every action, sorted by type and action.")
    w(f"pub(crate) static ACTIONS: [ActionSpec; {len(actions)}] = [")
    for k, a, params, params_required in actions:
        scopes = ", ".join(rust_str(s) for s in SCOPES.get((k, a), []))
        w("    ActionSpec {")
        w(f"        id: ActionId::{pascal(k)}({pascal(k)}Op::{pascal(a)}),")
        w(f"        kind: {rust_str(k)},")
        w(f"        action: {rust_str(a)},")
        w(f"        params: {params},")
        w(f"        params_required: {'true' if params_required else 'false'},")
        w(f"        scopes: &[{scopes}],")
        w("    },")
    w("];")
    return out


# --- setups ---------------------------------------------------------------------------------

# Display names (the document has none).
APP_NAMES = {
    "ACTIVECAMPAIGN": "ActiveCampaign", "AIRTABLE": "Airtable", "AUTH0": "Auth0",
    "BIGQUERY": "BigQuery", "CLEARBIT": "Clearbit", "DOCUSIGN": "DocuSign",
    "GOOGLE_SHEETS": "Google Sheets", "HTTP": "HTTP", "HUBSPOT": "HubSpot", "JWT": "JWT",
    "MAILCHIMP": "Mailchimp", "MAILJET": "Mailjet", "PIPEDRIVE": "Pipedrive",
    "SALESFORCE": "Salesforce", "SENDGRID": "SendGrid", "SLACK": "Slack", "STRIPE": "Stripe",
    "TELEGRAM": "Telegram", "TWILIO": "Twilio", "WHATSAPP": "WhatsApp", "ZAPIER": "Zapier",
    "SMTP": "SMTP",
}

# flowvault's own apps, which Auth0's document does not have: each setup as the document would
# write it (`x-flowvault-kind` names a `FieldKind` the document's formats have no word for).
EXTENSION_APPS = {
    # `AUTH0 SEND_EMAIL` through any mail server (the delivery settings' `email`). PLAINTEXT is
    # refused when the action runs unless the server is on a loopback address (local fakes).
    "SMTP": [("BASIC_AUTH", {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "host", "port", "username", "password", "tls"],
        "properties": {
            "type": {"type": "string", "enum": ["BASIC_AUTH"]},
            "host": {"type": "string", "format": "hostname-rfc2181", "maxLength": 253},
            "port": {"type": "string", "x-flowvault-kind": "Port", "maxLength": 5},
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "minLength": 1},
            "tls": {"type": "string", "enum": ["STARTTLS", "TLS", "PLAINTEXT"]},
        },
    })],
}

# A field's label and whether it is a secret, by name; (app, type, field) overrides the name.
LABELS = {
    "api_key": ("API key", True), "secret_key": ("Secret key", True), "token": ("Token", True),
    "url": ("Webhook URL", True), "code": ("Authorization code", True),
    "scope": ("Scope", False), "base_url": ("API URL", False), "domain": ("Domain", False),
    "client_id": ("Client ID", False), "client_secret": ("Client secret", True),
    "audience": ("Audience", False), "resource": ("Resource", False),
    "project_id": ("Project ID", False), "client_email": ("Service account e-mail", False),
    "private_key": ("Private key", True), "public_key": ("Public key", False),
    "username": ("Username", False), "password": ("Password", True), "name": ("Name", False),
    "value": ("Value", True), "in": ("Send in", False), "token_endpoint": ("Token endpoint", False),
    "algorithm": ("Algorithm", False), "secret": ("Secret", True),
    "account_id": ("Account SID", False),
    "host": ("Host", False), "port": ("Port", False), "tls": ("TLS", False),
}
LABEL_OVERRIDES = {
    ("MAILCHIMP", "API_KEY", "secret_key"): ("API key", True),
    ("TWILIO", "API_KEY", "api_key"): ("Auth token", True),
    ("STRIPE", "KEY_PAIR", "private_key"): ("Secret key", True),
    ("STRIPE", "KEY_PAIR", "public_key"): ("Publishable key", False),
    ("*", "OAUTH_CODE", "scope"): ("Scopes", False),
}

# Shapes flowvault recognises but Auth0 does not enforce: the CLI warns, the API accepts.
HINTS = {
    ("TWILIO", "API_KEY", "account_id"): "TwilioAccountSid",
    ("MAILCHIMP", "API_KEY", "secret_key"): "MailchimpApiKey",
    ("BIGQUERY", "OAUTH_JWT", "private_key"): "PemPrivateKey",
    ("JWT", "JWT", "private_key"): "PemPrivateKey",
    ("JWT", "JWT", "public_key"): "PemPublicKey",
}

# flowvault's fields beyond the document's, where it allows additional properties (all
# optional): what an OAUTH_CODE connection asks for beyond the app's default scopes, and a JWT
# connection's key material (the document lists only the algorithm).
EXTRA_FIELDS = {
    "OAUTH_CODE": ["scope"],
    "JWT": ["secret", "private_key", "public_key"],
}

# Fields the document leaves optional that flowvault needs to use the connection: the CLI warns
# when one is missing.
NEEDS = {
    ("BIGQUERY", "OAUTH_JWT"): ["project_id", "client_email", "private_key"],
}

# Rules of flowvault's own, as the names of functions in `catalog/rules.rs`: `rule` refuses,
# `advice` warns.
RULES = {"OAUTH_CODE": "no_authorization_code", ("SMTP", "BASIC_AUTH"): "smtp_host_without_port"}
ADVICE = {"JWT": "jwt_key_material"}

# Where the document's formats are enforced (`FieldKind`).
FORMATS = {"forms-url-https": "HttpsUrl", "hostname-rfc2181": "Hostname", "email": "Email"}


def setups(doc):
    schemas = doc["components"]["schemas"]
    gen = Gen(schemas)
    apps = []  # (app id, [(setup type, setup schema)])
    for ref in schemas["CreateFlowsVaultConnectionRequestContent"]["oneOf"]:
        variants = gen.deref(ref)["oneOf"]
        app, types = None, []
        for v in variants:
            v = gen.deref(v)
            app = gen.deref(v["properties"]["app_id"])["enum"][0]
            if "setup" in v["properties"]:
                setup = gen.deref(v["properties"]["setup"])
                kind = gen.deref(setup["properties"]["type"])["enum"][0]
                types.append((kind, setup))
        apps.append((app, types, False))
    for app, types in EXTENSION_APPS.items():
        assert app not in [a for a, _, _ in apps], f"{app} is in Auth0's document now"
        apps.append((app, types, True))
    apps.sort()

    out = []
    w = out.append
    w("//! The catalog's data: Auth0's apps and their setups, generated by")
    w("//! `scripts/gen-action-catalog.py … setups` from Auth0's Management API document (the")
    w("//! `CreateFlowsVaultConnection…` and `FlowsVaultConnectio…Setup…` schemas) and the script's")
    w("//! tables of what the document does not say. Do not edit by hand.")
    w("")
    w("use super::rules::{jwt_key_material, no_authorization_code, smtp_host_without_port};")
    w("use super::{")
    w("    AppId, AppSpec, FieldKind, FieldSpec, Hint, PEM_MAX, SECRET_MAX, SetupSpec, SetupType,")
    w("    TEXT_MAX, URL_MAX,")
    w("};")
    w("")
    w(f"/// Every app, in `AppId::ALL` order.")
    w(f"pub static CATALOG: [AppSpec; {len(apps)}] = [")
    for app, types, extension in apps:
        w(f"    AppSpec {{ id: AppId::{pascal(app)}, name: {rust_str(APP_NAMES[app])},")
        w(f"        extension: {'true' if extension else 'false'}, setups: &[")
        for kind, setup in types:
            props = {k: gen.deref(v) for k, v in setup.get("properties", {}).items() if k != "type"}
            required = setup.get("required", [])
            open_ = setup.get("additionalProperties", True) is not False
            for extra in EXTRA_FIELDS.get(kind, []):
                assert open_, f"{app} {kind}: an extra field needs additionalProperties"
                props.setdefault(extra, {"type": "string"})
            rule = RULES.get((app, kind)) or RULES.get(kind)
            advice = ADVICE.get(kind)
            needs = ", ".join(rust_str(n) for n in NEEDS.get((app, kind), []))
            w(f"        SetupSpec {{ setup_type: SetupType::{pascal(kind)},")
            w(f"            type_required: {'true' if 'type' in required else 'false'},")
            w(f"            open: {'true' if open_ else 'false'},")
            w(f"            rule: {f'Some({rule})' if rule else 'None'},")
            w(f"            advice: {f'Some({advice})' if advice else 'None'},")
            w(f"            needs: &[{needs}],")
            w("            fields: &[")
            for name, p in props.items():
                assert p.get("type") == "string", f"{app} {kind} {name} is not a string"
                label, secret = LABEL_OVERRIDES.get((app, kind, name)) or \
                    LABEL_OVERRIDES.get(("*", kind, name)) or LABELS[name]
                if "x-flowvault-kind" in p:
                    field_kind = f"FieldKind::{p['x-flowvault-kind']}"
                elif "enum" in p:
                    field_kind = "FieldKind::OneOf(&[" + ", ".join(rust_str(v) for v in p["enum"]) + "])"
                elif "format" in p:
                    field_kind = f"FieldKind::{FORMATS[p['format']]}"
                else:
                    field_kind = "FieldKind::Text"
                hint = HINTS.get((app, kind, name))
                if "maxLength" in p:
                    max_len = str(p["maxLength"])
                elif hint and hint.startswith("Pem"):
                    max_len = "PEM_MAX"
                elif field_kind == "FieldKind::HttpsUrl":
                    max_len = "URL_MAX"
                elif secret:
                    max_len = "SECRET_MAX"
                else:
                    max_len = "TEXT_MAX"
                w(f"                FieldSpec {{ name: {rust_str(name)}, label: {rust_str(label)},")
                w(f"                    kind: {field_kind},")
                w(f"                    hint: {f'Some(Hint::{hint})' if hint else 'None'},")
                w(f"                    required: {'true' if name in required else 'false'},")
                w(f"                    secret: {'true' if secret else 'false'},")
                w(f"                    min_len: {p.get('minLength', 0)}, max_len: {max_len} }},")
            w("            ] },")
        w("    ] },")
    w("];")
    return out


def main(path, what):
    doc = yaml.safe_load(open(path))
    out = {"actions": actions, "setups": setups}[what](doc)
    print("\n".join(out))


main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "actions")
