-- The registration office's applications (技术合同认定登记): a seller
-- applies for any technology contract it signed, on the platform (deal_id)
-- or elsewhere (the buyer named by credit code, on the platform or not).
-- draft → submitted ⇄ more_requested (补正) → registered | refused. The
-- office's clock: decide_by, stopped while more material is awaited
-- (stopped_on), provisional when it crossed a year without a holiday
-- calendar. Each step is a row of registration_application_events, the
-- record the parties and the office read.
CREATE TABLE registration_applications (
    id TEXT PRIMARY KEY NOT NULL,
    seller_organization_id TEXT NOT NULL REFERENCES organizations (id),
    deal_id TEXT REFERENCES deals (id),
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    subcategory TEXT,
    buyer_organization_id TEXT REFERENCES organizations (id),
    buyer_name TEXT NOT NULL,
    buyer_credit_code TEXT NOT NULL,
    buyer_region_code TEXT NOT NULL,
    total_amount_fen BIGINT NOT NULL CHECK (total_amount_fen > 0),
    non_technical_amount_fen BIGINT NOT NULL CHECK (non_technical_amount_fen >= 0),
    signed_on DATE NOT NULL,
    valid_until DATE NOT NULL,
    technology_field TEXT,
    ip_type TEXT,
    government_project BOOLEAN NOT NULL,
    related_party BOOLEAN NOT NULL,
    submitted_on DATE,
    decide_by DATE,
    stopped_on DATE,
    deadline_provisional BOOLEAN NOT NULL DEFAULT FALSE,
    registration_number TEXT UNIQUE,
    registered_total_fen BIGINT CHECK (registered_total_fen > 0),
    registered_technology_fen BIGINT CHECK (registered_technology_fen >= 0),
    refusal_reasons TEXT,
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    CHECK (non_technical_amount_fen <= total_amount_fen)
);
CREATE INDEX registration_applications_seller ON registration_applications (seller_organization_id, created_at);
CREATE INDEX registration_applications_queue ON registration_applications (status, decide_by);
CREATE TABLE registration_application_events (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES registration_applications (id),
    event TEXT NOT NULL,
    message TEXT,
    decide_by DATE,
    actor_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX registration_application_events_of ON registration_application_events (application_id, created_at);
