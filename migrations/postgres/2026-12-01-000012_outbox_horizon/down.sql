DROP INDEX outbox_horizon; ALTER TABLE outbox DROP COLUMN horizon;
