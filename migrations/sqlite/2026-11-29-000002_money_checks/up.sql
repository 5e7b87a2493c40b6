-- Money is an integer number of fen and never negative: the application
-- checks this at the edge (Money::from_fen), and the database refuses it
-- too, so that no code path, script or manual fix can store a negative
-- amount or a refund larger than its payment.
-- SQLite cannot add a constraint to an existing table, so triggers do it:
-- the same rule, refused with ABORT before the row is written.

CREATE TRIGGER listings_money_checks_insert BEFORE INSERT ON listings
WHEN NEW.price_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'listings: money amounts must not be negative');
END;

CREATE TRIGGER listings_money_checks_update BEFORE UPDATE ON listings
WHEN NEW.price_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'listings: money amounts must not be negative');
END;

CREATE TRIGGER demands_money_checks_insert BEFORE INSERT ON demands
WHEN NEW.budget_min_fen < 0
    OR NEW.budget_max_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'demands: money amounts must not be negative');
END;

CREATE TRIGGER demands_money_checks_update BEFORE UPDATE ON demands
WHEN NEW.budget_min_fen < 0
    OR NEW.budget_max_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'demands: money amounts must not be negative');
END;

CREATE TRIGGER offers_money_checks_insert BEFORE INSERT ON offers
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'offers: money amounts must not be negative');
END;

CREATE TRIGGER offers_money_checks_update BEFORE UPDATE ON offers
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'offers: money amounts must not be negative');
END;

CREATE TRIGGER contracts_money_checks_insert BEFORE INSERT ON contracts
WHEN NEW.total_amount_fen < 0
    OR NEW.non_technical_amount_fen < 0
    OR NEW.technology_amount_fen < 0
    OR NOT (NEW.non_technical_amount_fen <= NEW.total_amount_fen)
BEGIN
    SELECT RAISE(ABORT, 'contracts: an amount is negative or the non-technical part exceeds the total');
END;

CREATE TRIGGER contracts_money_checks_update BEFORE UPDATE ON contracts
WHEN NEW.total_amount_fen < 0
    OR NEW.non_technical_amount_fen < 0
    OR NEW.technology_amount_fen < 0
    OR NOT (NEW.non_technical_amount_fen <= NEW.total_amount_fen)
BEGIN
    SELECT RAISE(ABORT, 'contracts: an amount is negative or the non-technical part exceeds the total');
END;

CREATE TRIGGER registrations_money_checks_insert BEFORE INSERT ON registrations
WHEN NEW.registered_technology_amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'registrations: money amounts must not be negative');
END;

CREATE TRIGGER registrations_money_checks_update BEFORE UPDATE ON registrations
WHEN NEW.registered_technology_amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'registrations: money amounts must not be negative');
END;

CREATE TRIGGER payments_money_checks_insert BEFORE INSERT ON payments
WHEN NEW.amount_fen < 0
    OR NEW.refunded_amount_fen < 0
    OR NOT (NEW.refunded_amount_fen <= NEW.amount_fen)
BEGIN
    SELECT RAISE(ABORT, 'payments: an amount is negative or the refund exceeds the payment');
END;

CREATE TRIGGER payments_money_checks_update BEFORE UPDATE ON payments
WHEN NEW.amount_fen < 0
    OR NEW.refunded_amount_fen < 0
    OR NOT (NEW.refunded_amount_fen <= NEW.amount_fen)
BEGIN
    SELECT RAISE(ABORT, 'payments: an amount is negative or the refund exceeds the payment');
END;

CREATE TRIGGER subsidy_claims_money_checks_insert BEFORE INSERT ON subsidy_claims
WHEN NEW.computed_amount_fen < 0
    OR NEW.approved_amount_fen < 0
    OR NEW.final_amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'subsidy_claims: money amounts must not be negative');
END;

CREATE TRIGGER subsidy_claims_money_checks_update BEFORE UPDATE ON subsidy_claims
WHEN NEW.computed_amount_fen < 0
    OR NEW.approved_amount_fen < 0
    OR NEW.final_amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'subsidy_claims: money amounts must not be negative');
END;

CREATE TRIGGER claim_reviews_money_checks_insert BEFORE INSERT ON claim_reviews
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'claim_reviews: money amounts must not be negative');
END;

CREATE TRIGGER claim_reviews_money_checks_update BEFORE UPDATE ON claim_reviews
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'claim_reviews: money amounts must not be negative');
END;

CREATE TRIGGER subsidy_rounds_money_checks_insert BEFORE INSERT ON subsidy_rounds
WHEN NEW.budget_fen < 0
    OR NEW.total_approved_fen < 0
    OR NEW.total_final_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'subsidy_rounds: money amounts must not be negative');
END;

CREATE TRIGGER subsidy_rounds_money_checks_update BEFORE UPDATE ON subsidy_rounds
WHEN NEW.budget_fen < 0
    OR NEW.total_approved_fen < 0
    OR NEW.total_final_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'subsidy_rounds: money amounts must not be negative');
END;

CREATE TRIGGER disbursements_money_checks_insert BEFORE INSERT ON disbursements
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'disbursements: money amounts must not be negative');
END;

CREATE TRIGGER disbursements_money_checks_update BEFORE UPDATE ON disbursements
WHEN NEW.amount_fen < 0
BEGIN
    SELECT RAISE(ABORT, 'disbursements: money amounts must not be negative');
END;

