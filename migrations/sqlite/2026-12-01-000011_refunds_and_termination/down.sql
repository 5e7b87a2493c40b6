DROP TABLE payment_refunds;
ALTER TABLE deals DROP COLUMN termination_reason;
ALTER TABLE deals DROP COLUMN terminated_on;
