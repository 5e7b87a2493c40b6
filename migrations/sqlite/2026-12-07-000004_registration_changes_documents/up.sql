-- What follows a registration (技术合同认定登记): the buyer's kind (an
-- off-platform buyer has no organisation row to read it from), the
-- deadline reminder sent to the office, changes to
-- a registered contract (变更 and 注销, each decided by the office and kept
-- here), the documents of an application (contract text, annexes,
-- invoices, proofs: the bytes on disk under the data directory, or in
-- `content` when the database holds them for several replicas), and the
-- payments a seller declares on an off-platform contract, with proof, for
-- an official to confirm before a subsidy counts them.
ALTER TABLE registration_applications ADD COLUMN buyer_kind TEXT NOT NULL DEFAULT 'enterprise';
-- The deadline the office was last reminded of (once per deadline).
ALTER TABLE registration_applications ADD COLUMN reminded_for DATE;
CREATE TABLE registration_changes (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES registration_applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('amendment', 'cancellation')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused')),
    total_amount_fen BIGINT CHECK (total_amount_fen > 0),
    non_technical_amount_fen BIGINT CHECK (non_technical_amount_fen >= 0),
    valid_until DATE,
    reason TEXT NOT NULL,
    refusal_reasons TEXT,
    requested_by TEXT NOT NULL REFERENCES users (id),
    requested_at TIMESTAMP NOT NULL,
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP
);
-- At most one change waits for the office at a time.
CREATE UNIQUE INDEX registration_changes_pending ON registration_changes (application_id) WHERE status = 'pending';
CREATE TABLE registration_documents (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES registration_applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('contract', 'annex', 'invoice', 'proof')),
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes > 0),
    sha256 TEXT NOT NULL,
    content BLOB,
    uploaded_by TEXT NOT NULL REFERENCES users (id),
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX registration_documents_of ON registration_documents (application_id, uploaded_at);
CREATE TABLE registration_payments (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES registration_applications (id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    paid_on DATE NOT NULL,
    proof_document_id TEXT NOT NULL REFERENCES registration_documents (id),
    status TEXT NOT NULL CHECK (status IN ('declared', 'confirmed', 'rejected')),
    note TEXT,
    declared_by TEXT NOT NULL REFERENCES users (id),
    declared_at TIMESTAMP NOT NULL,
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP
);
CREATE INDEX registration_payments_of ON registration_payments (application_id, paid_on);
