-- A flow's executed_at follows its newest execution, in the same statement that stores it.
CREATE TRIGGER executions_touch_flow AFTER INSERT ON executions
BEGIN
    UPDATE flows SET executed_at = NEW.created_at
     WHERE tenant_id = NEW.tenant_id AND id = NEW.flow_id
       AND (executed_at IS NULL OR executed_at < NEW.created_at);
END;
