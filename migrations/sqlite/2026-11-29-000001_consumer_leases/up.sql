-- Which worker runs each shared outbox consumer (saved-search alerts, the
-- notify planner, a Meilisearch indexer). A worker runs a consumer only
-- while it holds the row's lease; it renews the lease every pass, and a
-- worker that died stops renewing, so another takes over once lease_until
-- has passed. One holder per consumer means one reader of its cursor.
CREATE TABLE consumer_leases (
    consumer TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL,
    acquired_at TIMESTAMP NOT NULL
);
