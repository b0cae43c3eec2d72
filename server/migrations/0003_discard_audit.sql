-- 0004: the audit trail records discarded changes.
--
-- A person may discard a change the server rejected (issue 8): the device uploads a
-- `discard` access with its next push, naming the entity (and patient) by id only, like
-- every other audit row. The action list is a CHECK on audit_log, so it is replaced by a
-- superset. NOT VALID + VALIDATE keeps the ACCESS EXCLUSIVE lock short on a large log (the
-- validation scan runs under a weaker lock); every existing row passes, since the new list
-- only adds a value.

ALTER TABLE vaidya.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE vaidya.audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('read', 'list', 'create', 'update', 'delete', 'export', 'print', 'login',
                      'denied', 'discard')) NOT VALID;
ALTER TABLE vaidya.audit_log VALIDATE CONSTRAINT audit_log_action_check;
