-- One row per alert a saved search has raised: the outbox consumer checks
-- it before emitting saved_search.matched, so an item that is published,
-- edited and published again alerts each saved search once.
CREATE TABLE saved_search_alerts (
    saved_search_id TEXT NOT NULL REFERENCES saved_searches (id),
    item_type TEXT NOT NULL,
    item_id TEXT NOT NULL,
    outbox_event_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (saved_search_id, item_type, item_id)
);
