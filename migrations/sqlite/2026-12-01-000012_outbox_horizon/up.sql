-- Nothing on SQLite: write transactions run one at a time, so event ids
-- become visible in order and a gap never fills later. (PostgreSQL's
-- migration of the same name records each event's transaction horizon.)
SELECT 1;
