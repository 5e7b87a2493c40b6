-- A Stripe charge can be refunded in part; the deal's paid amount is the
-- confirmed amounts net of what was refunded.
ALTER TABLE payments ADD COLUMN refunded_amount_fen BIGINT NOT NULL DEFAULT 0;
