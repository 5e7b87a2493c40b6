-- Every check of a registration certificate (GET /registrations/verify),
-- by client address: anyone may check a certificate they hold, but nobody
-- may walk the sequential numbers of a known seller, across replicas.
CREATE TABLE certificate_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ip TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL
);
CREATE INDEX certificate_checks_ip ON certificate_checks (ip, checked_at);
CREATE INDEX certificate_checks_at ON certificate_checks (checked_at);
