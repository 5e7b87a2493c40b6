DROP INDEX audit_log_created;
DROP INDEX audit_log_action;
DROP INDEX audit_log_organization;
DROP INDEX audit_log_actor;
ALTER TABLE audit_log DROP COLUMN keyed;
ALTER TABLE audit_log DROP COLUMN outcome;
ALTER TABLE audit_log DROP COLUMN organization_id;
