-- The password's life (等保2.0 level 3): when it was last set by its owner
-- (NULL: not since the account was made), whether someone else set it and
-- its owner must change it at the next sign-in, and the reset tokens sent
-- by e-mail, kept only as hashes, each usable once before it expires.
ALTER TABLE users ADD COLUMN password_changed_at TIMESTAMP;
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE password_resets (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
