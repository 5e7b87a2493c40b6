-- Which event ids may still appear. Ids come from a sequence, and a
-- transaction may commit after one that took a larger id, so a consumer
-- must not skip a gap that an open transaction will fill. `horizon` is the
-- first transaction id not yet started when the event was written
-- (pg_snapshot_xmax): once every transaction before it has ended
-- (horizon <= the oldest open transaction, pg_snapshot_xmin), no
-- transaction still open can hold an id below this event's — every gap
-- below it was rolled back. The database says so; no clock is consulted.
ALTER TABLE outbox ADD COLUMN horizon xid8 NOT NULL DEFAULT pg_snapshot_xmax(pg_current_snapshot());
CREATE INDEX outbox_horizon ON outbox (horizon);
