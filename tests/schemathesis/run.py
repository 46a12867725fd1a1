"""Runs schemathesis against a flowvault server of its own (scripts/api-fuzz).

Starts `flowvault serve` on a free loopback port with a fresh vault, makes an API client with
every scope, stores a few connections and flows so that reads, updates and runs have something
to find, then runs schemathesis with every check against /api/v2/openapi.json. Exits non-zero
on any schemathesis failure, and on a panic in the server's log.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.environ.get("API_FUZZ_SEED", "20261203")
EXAMPLES = os.environ.get("API_FUZZ_EXAMPLES", "40")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, form=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path} answered {e.code}: {e.read().decode(errors='replace')}")


def seed(base, token):
    """A few objects of each kind, ids returned for the hooks."""
    bearer = call(base, "POST", "/api/v2/flows/vault/connections", token, {
        "name": "fuzz bearer", "app_id": "HTTP",
        "setup": {"type": "BEARER", "token": "fuzz-token-not-a-secret"},
    })[1]
    empty = call(base, "POST", "/api/v2/flows/vault/connections", token, {
        "name": "fuzz empty", "app_id": "SLACK",
    })[1]
    flow = call(base, "POST", "/api/v2/flows", token, {
        "name": "fuzz flow",
        "actions": [{
            "id": "store", "type": "FLOW", "action": "STORE_VARS",
            "params": {"vars": {"greeting": "hello"}},
        }],
    })[1]
    execution = call(base, "POST", f"/api/v2/flows/{flow['id']}/executions?wait=true", token, {})[1]
    # One empty connection of every app, so a generated setup always has a connection to update.
    doc = call(base, "GET", "/api/v2/openapi.json")[1]
    apps = [v["properties"]["app_id"]["enum"][0] for v in doc["components"]["schemas"]["ConnectionCreate"]["oneOf"]]
    by_app = {}
    for app in apps:
        by_app[app] = call(base, "POST", "/api/v2/flows/vault/connections", token, {
            "name": f"fuzz {app.lower()}", "app_id": app,
        })[1]["id"]
    return {
        "connections": [bearer["id"], empty["id"]],
        "flows": [flow["id"]],
        "executions": [execution["id"]],
        "by_app": by_app,
    }, doc


def main() -> int:
    flowvault, schemathesis = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="flowvault-api-fuzz-")
    vault = os.path.join(work, "vault")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWVAULT_")}
    created = subprocess.run(
        [flowvault, "--data-dir", vault, "clients", "create", "--name", "api-fuzz", "--all-scopes", "--json"],
        env=env, check=True, capture_output=True, text=True,
    )
    client = json.loads(created.stdout)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Every provider's API and token endpoint is a closed port on loopback: what the fuzzer
    # makes the server call fails at once, and nothing leaves the machine.
    apps = json.loads(subprocess.run(
        [flowvault, "--data-dir", vault, "apps", "list", "--json"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout)
    config = os.path.join(work, "flowvault.toml")
    with open(config, "w") as f:
        for app in apps:
            f.write(f'[providers.{app["app_id"]}]\nbase_url = "http://127.0.0.1:9/"\ntoken_url = "http://127.0.0.1:9/token"\n')
    env["FLOWVAULT_CONFIG"] = config
    env["FLOWVAULT_ALLOW_PRIVATE_NETWORK"] = "true"
    log_path = os.path.join(work, "serve.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [flowvault, "--data-dir", vault, "serve", "--listen", f"127.0.0.1:{port}", "--log", "warn"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    print(open(log_path).read(), file=sys.stderr)
                    return 1
                time.sleep(0.1)
        token = call(base, "POST", "/oauth/token", form={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        })[1]["access_token"]
        ids, doc = seed(base, token)
        run_env = dict(os.environ)
        run_env["FLOWVAULT_FUZZ_IDS"] = json.dumps(ids)
        run_env["FLOWVAULT_FUZZ_TOKEN"] = token
        doc_path = os.path.join(work, "openapi.json")
        with open(doc_path, "w") as f:
            json.dump(doc, f)
        run_env["FLOWVAULT_FUZZ_DOC"] = doc_path
        if os.path.exists(os.path.join(HERE, "hooks.py")):
            run_env["PYTHONPATH"] = HERE
            run_env["SCHEMATHESIS_HOOKS"] = "hooks"
        cmd = [
            schemathesis, "--config-file", os.path.join(HERE, "schemathesis.toml"),
            "run", f"{base}/api/v2/openapi.json",
            "--checks", "all",
            "--seed", SEED,
            "--max-examples", EXAMPLES,
            # One worker: CPython 3.11 before 3.11.8 races in ast.parse across threads
            # ("AST constructor recursion depth mismatch", gh-106905), which hypothesis calls.
            "--workers", "1",
            "--request-timeout", "40",
            "--generation-deterministic",
            "--no-color",
        ]
        print("== schemathesis", " ".join(cmd[4:]), flush=True)
        status = subprocess.run(cmd, env=run_env, cwd=work).returncode
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    log = open(log_path).read()
    if "panicked" in log:
        print("the server panicked during the run:\n" + log, file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
