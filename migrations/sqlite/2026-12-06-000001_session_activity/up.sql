-- When a session was last used (to the minute): a session unused for
-- auth.session_idle_minutes ends (等保2.0 level 3: idle sessions time out).
-- NULL: not used since it was created.
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMP;
