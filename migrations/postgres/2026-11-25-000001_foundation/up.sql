-- The whole product's tables, designed up front so later services extend
-- rather than reshape. Portable types only: TEXT ids, BIGINT fen, TIMESTAMP
-- (naive UTC), DATE, BOOLEAN, JSON kept as TEXT.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    -- NULL for officials and admins who act for no organisation.
    organization_id TEXT REFERENCES organizations (id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'zh-CN',
    disabled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX users_organization_id ON users (organization_id);

-- Bearer tokens are stored only as their SHA-256.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    ip TEXT,
    user_agent TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Every login attempt, for rate limiting that holds across replicas.
CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, attempted_at);
CREATE INDEX login_attempts_at ON login_attempts (attempted_at);

-- Supply: patents and technology achievements offered by an organisation.
CREATE TABLE listings (
    id TEXT PRIMARY KEY NOT NULL,
    owner_organization_id TEXT NOT NULL REFERENCES organizations (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT,
    ipc_codes TEXT NOT NULL,
    maturity TEXT NOT NULL,
    trade_modes TEXT NOT NULL,
    price_fen BIGINT,
    negotiable BOOLEAN NOT NULL,
    region_code TEXT NOT NULL,
    review_reason TEXT,
    submitted_at TIMESTAMP,
    published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX listings_owner_status ON listings (owner_organization_id, status);
CREATE INDEX listings_status_updated ON listings (status, updated_at);

CREATE TABLE listing_patents (
    id TEXT PRIMARY KEY NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    application_number TEXT NOT NULL,
    publication_number TEXT,
    patent_type TEXT NOT NULL,
    title TEXT NOT NULL,
    filing_date DATE NOT NULL,
    grant_date DATE,
    legal_status TEXT NOT NULL,
    expires_on DATE NOT NULL,
    UNIQUE (listing_id, position)
);
CREATE INDEX listing_patents_application_number ON listing_patents (application_number);

-- Technology demands posted by buyers.
CREATE TABLE demands (
    id TEXT PRIMARY KEY NOT NULL,
    owner_organization_id TEXT NOT NULL REFERENCES organizations (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    ipc_codes TEXT NOT NULL,
    budget_min_fen BIGINT,
    budget_max_fen BIGINT,
    negotiable BOOLEAN NOT NULL,
    trade_modes TEXT NOT NULL,
    region_code TEXT NOT NULL,
    deadline DATE,
    review_reason TEXT,
    submitted_at TIMESTAMP,
    published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX demands_owner_status ON demands (owner_organization_id, status);
CREATE INDEX demands_status_updated ON demands (status, updated_at);

-- Officials' moderation decisions on listings and demands.
CREATE TABLE moderation_reviews (
    id TEXT PRIMARY KEY NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL REFERENCES users (id),
    decision TEXT NOT NULL,
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX moderation_reviews_subject ON moderation_reviews (subject_type, subject_id);

CREATE TABLE saved_searches (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    query TEXT NOT NULL,
    notify TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX saved_searches_user_id ON saved_searches (user_id);

CREATE TABLE deals (
    id TEXT PRIMARY KEY NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id),
    demand_id TEXT REFERENCES demands (id),
    buyer_organization_id TEXT NOT NULL REFERENCES organizations (id),
    seller_organization_id TEXT NOT NULL REFERENCES organizations (id),
    agency_organization_id TEXT REFERENCES organizations (id),
    status TEXT NOT NULL,
    agreed_offer_id TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    agreed_at TIMESTAMP,
    contracted_at TIMESTAMP,
    registered_at TIMESTAMP,
    completed_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    cancel_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX deals_buyer ON deals (buyer_organization_id);
CREATE INDEX deals_seller ON deals (seller_organization_id);
CREATE INDEX deals_agency ON deals (agency_organization_id);
CREATE INDEX deals_listing ON deals (listing_id);
CREATE INDEX deals_status ON deals (status);

-- Offers alternate between the parties; (deal_id, sequence) is unique so two
-- concurrent offers cannot both claim the next turn.
CREATE TABLE offers (
    id TEXT PRIMARY KEY NOT NULL,
    deal_id TEXT NOT NULL REFERENCES deals (id),
    sequence INTEGER NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    amount_fen BIGINT NOT NULL,
    trade_mode TEXT NOT NULL,
    terms TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (deal_id, sequence)
);

CREATE TABLE contracts (
    id TEXT PRIMARY KEY NOT NULL,
    deal_id TEXT NOT NULL UNIQUE REFERENCES deals (id),
    category TEXT NOT NULL,
    trade_mode TEXT NOT NULL,
    total_amount_fen BIGINT NOT NULL,
    non_technical_amount_fen BIGINT NOT NULL,
    technology_amount_fen BIGINT NOT NULL,
    signed_on DATE NOT NULL,
    related_party BOOLEAN NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);

-- 技术合同认定登记: one row per decision; only registrations get a number.
CREATE TABLE registrations (
    id TEXT PRIMARY KEY NOT NULL,
    deal_id TEXT NOT NULL REFERENCES deals (id),
    decision TEXT NOT NULL,
    registration_number TEXT UNIQUE,
    registered_technology_amount_fen BIGINT,
    reason TEXT,
    official_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX registrations_deal ON registrations (deal_id);

-- Registration numbers are never reused: the last serial per prefix
-- (region + office + year) only ever grows.
CREATE TABLE registration_serials (
    prefix TEXT PRIMARY KEY NOT NULL,
    last_serial BIGINT NOT NULL
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY NOT NULL,
    deal_id TEXT NOT NULL REFERENCES deals (id),
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    paid_on DATE,
    reference TEXT,
    stripe_payment_intent_id TEXT UNIQUE,
    failure_reason TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    confirmed_by TEXT REFERENCES users (id),
    confirmed_at TIMESTAMP,
    refunded_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX payments_deal ON payments (deal_id);

-- Each Stripe event is applied once: its id is recorded in the same
-- transaction as its effect.
CREATE TABLE stripe_events (
    event_id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    payment_id TEXT REFERENCES payments (id),
    received_at TIMESTAMP NOT NULL
);

-- Idempotency-Key: the first response is stored and replayed.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    status_code INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

CREATE TABLE subsidy_claims (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    role TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    status TEXT NOT NULL,
    computed_amount_fen BIGINT NOT NULL,
    approved_amount_fen BIGINT,
    final_amount_fen BIGINT,
    -- The itemised calculation and the inputs it used, frozen at submission.
    calculation TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    submitted_by TEXT NOT NULL REFERENCES users (id),
    submitted_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (organization_id, program_id, year, role)
);
CREATE INDEX subsidy_claims_program_year ON subsidy_claims (program_id, year, status);

CREATE TABLE claim_reviews (
    id TEXT PRIMARY KEY NOT NULL,
    claim_id TEXT NOT NULL REFERENCES subsidy_claims (id),
    level INTEGER NOT NULL,
    reviewer_id TEXT NOT NULL REFERENCES users (id),
    decision TEXT NOT NULL,
    amount_fen BIGINT,
    reason TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (claim_id, level)
);

CREATE TABLE subsidy_rounds (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    status TEXT NOT NULL,
    budget_fen BIGINT,
    total_approved_fen BIGINT NOT NULL,
    total_final_fen BIGINT NOT NULL,
    closed_by TEXT NOT NULL REFERENCES users (id),
    closed_at TIMESTAMP NOT NULL,
    notice_until DATE,
    UNIQUE (program_id, year)
);

CREATE TABLE disbursements (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL REFERENCES subsidy_rounds (id),
    claim_id TEXT NOT NULL UNIQUE REFERENCES subsidy_claims (id),
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    amount_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    paid_on DATE,
    reference TEXT,
    recorded_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX disbursements_round ON disbursements (round_id);

-- Events written in the same transaction as the change they describe;
-- consumers (indexer, mailer, alerts) read them from their own cursor.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    event_type TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_aggregate ON outbox (aggregate_type, aggregate_id);

CREATE TABLE outbox_cursors (
    consumer TEXT PRIMARY KEY NOT NULL,
    last_event_id BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Deferred work with retries and backoff (e-mail delivery, Stripe calls).
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    queue TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX jobs_ready ON jobs (queue, status, run_at);

CREATE TABLE sent_emails (
    id TEXT PRIMARY KEY NOT NULL,
    outbox_event_id BIGINT NOT NULL REFERENCES outbox (id),
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    locale TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (outbox_event_id, template, recipient)
);

-- The audit log is append-only and hash-chained: each row stores the hash
-- of the one before, so an edit or a deletion breaks the chain. The single
-- row of audit_chain serialises appenders (its UPDATE is the lock).
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    actor_user_id TEXT,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    request_id TEXT,
    created_at TIMESTAMP NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
