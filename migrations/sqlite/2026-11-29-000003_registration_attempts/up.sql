-- Every registration attempt that got as far as hashing its password, by
-- client address: registration is limited per address, across replicas.
CREATE TABLE registration_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ip TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX registration_attempts_ip ON registration_attempts (ip, attempted_at);
CREATE INDEX registration_attempts_at ON registration_attempts (attempted_at);
