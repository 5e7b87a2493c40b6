-- The audit trail for auditors (等保2.0 level 3: security audit).
-- organization_id: the organisation the event concerns (the actor's, or the
-- subject's for a failed sign-in), so an auditor can read one enterprise's
-- trail. outcome: success | denied | failed. keyed: the row's hash is an
-- HMAC-SHA256 under the configured audit key; rows written before the key
-- existed keep their plain SHA-256 and may only form the chain's beginning.
ALTER TABLE audit_log ADD COLUMN organization_id TEXT;
ALTER TABLE audit_log ADD COLUMN outcome TEXT NOT NULL DEFAULT 'success';
ALTER TABLE audit_log ADD COLUMN keyed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, seq);
CREATE INDEX audit_log_organization ON audit_log (organization_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_created ON audit_log (created_at);
