#!/usr/bin/env python3
"""Writes tests/contracts/: reduced copies of the providers' OpenAPI documents.

    scripts/gen-contracts.py [DIR]     # DIR holds the full documents (default ../shared/specs)

The engine's spec tests (crates/engine/tests/it/spec.rs) check the requests flowvault sends
against these contracts; with FLOWVAULT_SPECS_DIR set they read the full documents instead. A
contract keeps, for the operations flowvault calls: their paths, methods, parameters, request
bodies, servers (or Swagger 2 host/basePath/consumes), the security requirements and schemes they
use, and every component they reach through `$ref`, followed transitively. It drops prose
(description, summary, title, examples, externalDocs, tags, contact, x- extensions) and, for the
providers, responses: flowvault checks the requests it sends, not what comes back. Each document
keeps its format (OpenAPI 3.x or Swagger 2.0), so the same checker reads a contract and the
original. Every output starts with `x-flowvault-source`: the original's file name, sha256,
repository, commit, path and licence.

Where the originals come from (fetched at the commits below; the sha256 is checked on each run,
so a different version must be recorded here before its contract is written):

- twilio_api_v2010.json: Twilio's REST API 2010-04-01 (OpenAPI 3.0.1, info.version 1.0.0),
  github.com/twilio/twilio-oai @ d50069b44ea8cd23141385bdb6db48f16ff75bb5 (2026-04-14),
  spec/json/twilio_api_v2010.json. The repository is MIT-licensed; the document's own
  info.license says "Apache 2.0".
  Operations: CreateMessage (SEND_SMS), CreateCall (MAKE_CALL), FetchAccount (connection check).
- slack_web_openapi_v2.json: Slack Web API (Swagger 2.0, info.version 1.7.0),
  github.com/slackapi/slack-api-specs @ bc08db49625630e3585bf2f1322128ea04f2a7f3 (archived;
  the file last changed in dfea73e06d146c368d7f94b52ac90796dc4e27e1, 2020-10-06),
  web-api/slack_web_openapi_v2.json. The repository is MIT-licensed; the document states no
  licence. Operations: chat.postMessage (POST_MESSAGE), auth.test (connection check; documented
  as GET, flowvault POSTs it, which Slack accepts). oauth.v2.access, which flowvault's OAuth code
  grant calls, is left out: this document describes it as a GET with query parameters, not the
  form POST of RFC 6749 that flowvault sends.
- sendgrid_tsg_mail_v3.json: Twilio SendGrid Mail API v3 (OpenAPI 3.1.0, info.version 1.0.0),
  github.com/twilio/sendgrid-oai @ dbe0e0d2e67a0c3c55b222d54df2acda2b9027a7 (2026-01-22),
  spec/json/tsg_mail_v3.json. The repository is MIT-licensed, and so is the document
  (info.license: MIT). Operation: SendMail, POST /v3/mail/send (SEND_EMAIL). The connection
  check's GET /v3/scopes is not in this document.
- mailchimp_marketing_openapi.json: Mailchimp Marketing API 3.0.85 (OpenAPI 3.0.1), *not* the
  official file but the Ballerina connector's copy of it:
  github.com/ballerina-platform/module-ballerinax-mailchimp.marketing @
  ae3b107bee3dd0cd47450c3143ea3ebd40b69c4d (2026-03-06), docs/spec/openapi.json (last changed in
  7293f9024fa2e407f0888098014aa562d1dffe68), which its docs/spec/sanitations.md says was made
  from commit 30f5482a24861d1f23ba06d94898d42bebf1f331 of spec/marketing.json in
  mailchimp/mailchimp-client-lib-codegen and then edited (path parameters in camelCase). The
  connector repository is Apache-2.0-licensed; the document states no licence.
  Operations: putListsIdMembersId, PUT /lists/{listId}/members/{subscriberHash}
  (UPSERT_MEMBER), getPing (connection check).
- auth0_management_api.yml -> auth0_flows.json: Auth0 Management API v2 (OpenAPI 3.1.0,
  info.version 2.0), Auth0's own document as kept by a third party:
  github.com/api-evangelist/auth0 @ 19ce10abe0e5d25fc3b8ffdec71e4d7a6b52b483,
  openapi/_original/auth0-management-api-openapi.yml (last changed in
  885dffcab7a7d845b0564479bbcc64b8a1680679); the repository names
  https://auth0.com/docs/api/management/openapi.json as its source. Licence not stated in the
  document. Kept: the /flows paths (flows, executions, vault connections) with their responses,
  the FlowAction union with every FlowAction... schema, and every FlowsVaultConnection...
  schema (Auth0 spells some of them FlowsVaultConnectio...), with what they reach. Schema
  keywords that carry rules (type, enum, const, required, properties, additionalProperties,
  items, lengths, bounds, pattern, format, oneOf/anyOf/allOf, nullable, default, ...) are kept.

Needs Python 3.11 and PyYAML. The output is deterministic: keys sorted (x-flowvault-source
first), one-space indent, UTF-8, a final newline.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "contracts"

# Each original: where it comes from, and the operations flowvault calls in it as
# (method, path, operationId, who calls it). The script stops if one is missing or moved.
PROVIDERS: list[dict[str, Any]] = [
    {
        "file": "twilio_api_v2010.json",
        "sha256": "99cae87a6bb1725f71363364cbd30282a13140374b2d5f9bdd5bdfa5d4c8a6d7",
        "repository": "https://github.com/twilio/twilio-oai",
        "commit": "d50069b44ea8cd23141385bdb6db48f16ff75bb5",
        "path": "spec/json/twilio_api_v2010.json",
        "licence": "repository: MIT; the document's info.license: Apache 2.0",
        "operations": [
            ("post", "/2010-04-01/Accounts/{AccountSid}/Messages.json", "CreateMessage",
             "TWILIO SEND_SMS"),
            ("post", "/2010-04-01/Accounts/{AccountSid}/Calls.json", "CreateCall",
             "TWILIO MAKE_CALL"),
            ("get", "/2010-04-01/Accounts/{Sid}.json", "FetchAccount", "connection check"),
        ],
    },
    {
        "file": "slack_web_openapi_v2.json",
        "sha256": "742a5c977180a829df8767cf57bc417d99b3713583aee83741efb9c08ca731e7",
        "repository": "https://github.com/slackapi/slack-api-specs",
        "commit": "bc08db49625630e3585bf2f1322128ea04f2a7f3",
        "path": "web-api/slack_web_openapi_v2.json",
        "licence": "repository: MIT; licence not stated in the document",
        "operations": [
            ("post", "/chat.postMessage", "chat_postMessage", "SLACK POST_MESSAGE"),
            ("get", "/auth.test", "auth_test", "connection check (sent as POST)"),
        ],
    },
    {
        "file": "sendgrid_tsg_mail_v3.json",
        "sha256": "4ba24d0feb8a6b347f60528161d1cf0e7591987d2b3a64a6533685dc2b39d19f",
        "repository": "https://github.com/twilio/sendgrid-oai",
        "commit": "dbe0e0d2e67a0c3c55b222d54df2acda2b9027a7",
        "path": "spec/json/tsg_mail_v3.json",
        "licence": "repository: MIT; the document's info.license: MIT",
        "operations": [("post", "/v3/mail/send", "SendMail", "SENDGRID SEND_EMAIL")],
    },
    {
        "file": "mailchimp_marketing_openapi.json",
        "sha256": "ab58965d976eb992be3892534f5f2987965c829c1ee0b8c70e0c03a1e63ba815",
        "repository": "https://github.com/ballerina-platform/module-ballerinax-mailchimp.marketing",
        "commit": "ae3b107bee3dd0cd47450c3143ea3ebd40b69c4d",
        "path": "docs/spec/openapi.json",
        "licence": "repository: Apache-2.0 (the Ballerina connector's copy of Mailchimp's "
        "spec/marketing.json @ 30f5482a24861d1f23ba06d94898d42bebf1f331); licence not stated in "
        "the document",
        "operations": [
            ("put", "/lists/{listId}/members/{subscriberHash}", "putListsIdMembersId",
             "MAILCHIMP UPSERT_MEMBER"),
            ("get", "/ping", "getPing", "connection check"),
        ],
    },
]

AUTH0 = {
    "file": "auth0_management_api.yml",
    "out": "auth0_flows.json",
    "sha256": "5a971d86ee97d08d66aa529e5e384687716bbab6727fefd5ed8e5dbed4ee9379",
    "repository": "https://github.com/api-evangelist/auth0",
    "commit": "19ce10abe0e5d25fc3b8ffdec71e4d7a6b52b483",
    "path": "openapi/_original/auth0-management-api-openapi.yml",
    "licence": "licence not stated in the document (a third party's copy of Auth0's "
    "https://auth0.com/docs/api/management/openapi.json)",
    "paths": "/flows",
    # Schema names kept whether or not a /flows path reaches them (Auth0 spells some of the
    # vault connection schemas `FlowsVaultConnectio…`).
    "schemas": re.compile(r"^FlowAction|FlowsVaultConnectio"),
}

# Prose: dropped wherever it is a keyword (never when it names a property, a path, …).
PROSE = {
    "description", "summary", "title", "example", "examples", "externalDocs", "tags",
    "termsOfService", "contact",
}
# Values that are data, copied as they are.
VERBATIM = {"enum", "const", "default", "required", "security"}
# Keywords whose value maps names (properties, status codes, media types, …) to objects.
NAME_MAPS = {
    "properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "schemas",
    "parameters", "responses", "securitySchemes", "securityDefinitions", "requestBodies",
    "headers", "content", "encoding", "variables", "paths", "mapping", "links", "callbacks",
    "scopes",
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="?", default=str(ROOT.parent / "shared" / "specs"),
                        help="directory of the full documents (default: ../shared/specs)")
    args = parser.parse_args()
    specs = Path(args.specs)
    OUT.mkdir(parents=True, exist_ok=True)
    for provider in PROVIDERS:
        raw = read(specs, provider)
        contract = provider_contract(json.loads(raw), provider)
        write(provider["file"], contract, provider, raw)
    raw = read(specs, AUTH0)
    write(AUTH0["out"], auth0_contract(yaml.load(raw, Loader=Yaml12Loader)), AUTH0, raw)
    return 0


def read(specs: Path, source: dict[str, Any]) -> bytes:
    path = specs / source["file"]
    try:
        raw = path.read_bytes()
    except OSError as e:
        sys.exit(f"cannot read {path}: {e}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != source["sha256"]:
        sys.exit(f"{path} has sha256 {digest}, not the version recorded in this script "
                 f"({source['sha256']}): record where the new one comes from first")
    return raw


def provider_contract(doc: dict[str, Any], provider: dict[str, Any]) -> dict[str, Any]:
    """The operations flowvault calls, without their responses, and what they reference."""
    out: dict[str, Any] = {k: doc[k] for k in ("openapi", "swagger") if k in doc}
    out["info"] = info(doc)
    for key in ("servers", "host", "basePath", "schemes", "consumes", "produces", "security"):
        if key in doc:
            out[key] = clean(doc[key], key)
    paths: dict[str, Any] = {}
    for method, template, operation_id, _caller in provider["operations"]:
        item = doc["paths"].get(template, {})
        op = item.get(method)
        if not isinstance(op, dict) or op.get("operationId") != operation_id:
            sys.exit(f"{provider['file']}: no {method.upper()} {template} ({operation_id})")
        kept = paths.setdefault(template, {
            k: clean(v, k) for k, v in item.items() if k in ("servers", "parameters")
        })
        kept[method] = clean({k: v for k, v in op.items() if k != "responses"})
    out["paths"] = paths
    keep_security_schemes(doc, out)
    follow_refs(doc, out)
    return out


def auth0_contract(doc: dict[str, Any]) -> dict[str, Any]:
    """The /flows paths (with responses), the flow action and vault connection schemas."""
    out: dict[str, Any] = {"openapi": doc["openapi"], "info": info(doc)}
    for key in ("servers", "security"):
        out[key] = clean(doc[key], key)
    out["paths"] = {
        p: clean(item) for p, item in doc["paths"].items()
        if p == AUTH0["paths"] or p.startswith(AUTH0["paths"] + "/")
    }
    schemas = doc["components"]["schemas"]
    out["components"] = {"schemas": {
        name: clean(schema) for name, schema in schemas.items() if AUTH0["schemas"].search(name)
    }}
    if "FlowAction" not in out["components"]["schemas"]:
        sys.exit(f"{AUTH0['file']}: no FlowAction schema")
    keep_security_schemes(doc, out)
    follow_refs(doc, out)
    return out


def info(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc["info"][k] for k in ("title", "version", "license") if k in doc["info"]}


def clean(node: Any, key: str | None = None) -> Any:
    """`node` without prose and extensions; `key` is the keyword it is the value of."""
    if key in VERBATIM:
        return copy.deepcopy(node)
    if isinstance(node, list):
        return [clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    if key in NAME_MAPS:
        return {str(name): clean(value) for name, value in node.items()}
    return {
        str(k): clean(v, str(k)) for k, v in node.items()
        if not (str(k) in PROSE or str(k).startswith("x-"))
    }


def keep_security_schemes(doc: dict[str, Any], out: dict[str, Any]) -> None:
    """The schemes the kept requirements name, with only the scopes they ask for."""
    wanted: dict[str, set[str]] = {}
    requirements = list(out.get("security", []))
    for item in out["paths"].values():
        for method, op in item.items():
            if method in METHODS:
                requirements += op.get("security", [])
    for requirement in requirements:
        for name, scopes in requirement.items():
            wanted.setdefault(name, set()).update(scopes)
    if "swagger" in doc:
        source, target = doc.get("securityDefinitions", {}), out
        key = "securityDefinitions"
    else:
        source = doc.get("components", {}).get("securitySchemes", {})
        target, key = out.setdefault("components", {}), "securitySchemes"
    kept = {}
    for name in sorted(wanted):
        if name not in source:
            sys.exit(f"security scheme {name} is used but not defined")
        scheme = clean(source[name])
        # Scope descriptions are prose: the names stay, the text goes.
        for holder in [scheme, *scheme.get("flows", {}).values()]:
            if isinstance(holder.get("scopes"), dict):
                holder["scopes"] = {s: "" for s in holder["scopes"] if s in wanted[name]}
        kept[name] = scheme
    if kept:
        target[key] = kept


def follow_refs(doc: dict[str, Any], out: dict[str, Any]) -> None:
    """Copies (cleaned) every component that `out` reaches through local `$ref`s, transitively.

    A reference into a component (`#/components/schemas/A/properties/b`) copies all of A."""
    pending = refs_in(out)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
        # A component is #/components/<kind>/<name> (OpenAPI 3) or #/<kind>/<name> (Swagger 2).
        unit = 3 if parts[0] == "components" else 2
        if not ref.startswith("#/") or parts[0] == "paths" or len(parts) < unit:
            sys.exit(f"only references to components are supported, found {ref}")
        if lookup(doc, parts) is None:
            sys.exit(f"cannot resolve {ref}")
        holder = out
        for part in parts[: unit - 1]:
            holder = holder.setdefault(part, {})
        name = parts[unit - 1]
        if name not in holder:
            holder[name] = clean(lookup(doc, parts[:unit]))
            pending |= refs_in(holder[name])


def lookup(doc: dict[str, Any], parts: list[str]) -> Any:
    node: Any = doc
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def refs_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v)
            elif k == "mapping" and isinstance(v, dict):
                found |= {r for r in v.values() if isinstance(r, str) and r.startswith("#/")}
            else:
                found |= refs_in(v)
    elif isinstance(node, list):
        for item in node:
            found |= refs_in(item)
    return found


def write(name: str, contract: dict[str, Any], source: dict[str, Any], raw: bytes) -> None:
    origin: dict[str, Any] = {
        "file": source["file"],
        "sha256": hashlib.sha256(raw).hexdigest(),
        "repository": source["repository"],
        "commit": source["commit"],
        "path": source["path"],
        "licence": source["licence"],
        "generated_by": "scripts/gen-contracts.py",
    }
    if "operations" in source:
        origin["operations"] = [
            {"method": m.upper(), "path": p, "operationId": o, "called_by": c}
            for m, p, o, c in source["operations"]
        ]
    document = {"x-flowvault-source": origin, **sort_keys(contract)}
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    (OUT / name).write_text(text, encoding="utf-8")
    print(f"tests/contracts/{name}: {len(text.encode()):,} bytes (from {len(raw):,})")


def sort_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: sort_keys(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [sort_keys(item) for item in node]
    return node


class Yaml12Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as JSON sees it: only true/false are booleans and dates stay strings (PyYAML's
    YAML 1.1 rules would read `on`, `yes` or `2024-01-01` as something else)."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

if __name__ == "__main__":
    sys.exit(main())
