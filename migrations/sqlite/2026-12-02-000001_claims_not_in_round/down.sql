ALTER TABLE subsidy_claims DROP COLUMN status_reason;
