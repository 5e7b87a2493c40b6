-- 合同解除: a registered contract ended by a party, with the day it ended
-- and why (the deal's own audit entry records who).
ALTER TABLE deals ADD COLUMN terminated_on DATE;
ALTER TABLE deals ADD COLUMN termination_reason TEXT;

-- Every refund of a payment, as the payee recorded it (a transfer back,
-- with its date and bank reference) or as Stripe made it (its refund id).
-- The payment's refunded_amount_fen is their running total (for Stripe,
-- at least what Stripe reports refunded on the charge).
CREATE TABLE payment_refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    refunded_on DATE NOT NULL,
    reference TEXT,
    stripe_refund_id TEXT UNIQUE,
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id);
