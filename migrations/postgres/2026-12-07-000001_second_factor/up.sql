-- A second factor for signing in (等保2.0 level 3: two kinds of
-- authentication for administrators). `second_factors` holds one TOTP
-- secret per user, sealed with a key derived from the server's secret (the
-- database alone does not give it away); it counts only once confirmed
-- with a code. `last_step` is the time step of the last code accepted, so
-- that no code is accepted twice (RFC 6238, 5.2). Recovery codes are kept
-- as SHA-256 hashes and used once. A login challenge is what a right
-- password earns when a second factor is enrolled: its token (hashed) is
-- traded for a session with a right code before it expires.
CREATE TABLE second_factors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    sealed_secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT
);
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE login_challenges (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    ip TEXT,
    user_agent TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);
