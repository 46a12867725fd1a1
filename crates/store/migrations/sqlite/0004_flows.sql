-- Flows, which connections they use, and their executions.

CREATE TABLE flows (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    -- The actions as JSON (templates unrendered). Flows hold no vault secrets: actions name
    -- connections by id.
    actions     TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    executed_at TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE INDEX flows_by_created ON flows (tenant_id, created_at);

-- Which connections each flow's actions use (for "this connection is used by …").
CREATE TABLE flow_connections (
    tenant_id     TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, flow_id),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE executions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    flow_id      TEXT NOT NULL,
    id           TEXT NOT NULL,
    trace_id     TEXT NOT NULL,
    status       TEXT NOT NULL,
    -- What each action got and gave, sealed (it may hold personal data from the flow's input);
    -- secrets of the connections used were scrubbed before sealing.
    record_sealed BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    started_at   TEXT,
    ended_at     TEXT,
    UNIQUE (tenant_id, id)
) STRICT;

CREATE INDEX executions_by_flow ON executions (tenant_id, flow_id, seq);
CREATE INDEX executions_by_age ON executions (created_at);
