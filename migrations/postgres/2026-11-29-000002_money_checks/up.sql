-- Money is an integer number of fen and never negative: the application
-- checks this at the edge (Money::from_fen), and the database refuses it
-- too, so that no code path, script or manual fix can store a negative
-- amount or a refund larger than its payment.

ALTER TABLE listings ADD CONSTRAINT listings_price_fen_not_negative CHECK (price_fen >= 0);
ALTER TABLE demands ADD CONSTRAINT demands_budget_min_fen_not_negative CHECK (budget_min_fen >= 0);
ALTER TABLE demands ADD CONSTRAINT demands_budget_max_fen_not_negative CHECK (budget_max_fen >= 0);
ALTER TABLE offers ADD CONSTRAINT offers_amount_fen_not_negative CHECK (amount_fen >= 0);
ALTER TABLE contracts ADD CONSTRAINT contracts_total_amount_fen_not_negative CHECK (total_amount_fen >= 0);
ALTER TABLE contracts ADD CONSTRAINT contracts_non_technical_amount_fen_not_negative CHECK (non_technical_amount_fen >= 0);
ALTER TABLE contracts ADD CONSTRAINT contracts_technology_amount_fen_not_negative CHECK (technology_amount_fen >= 0);
ALTER TABLE contracts ADD CONSTRAINT contracts_non_technical_within_total CHECK (non_technical_amount_fen <= total_amount_fen);
ALTER TABLE registrations ADD CONSTRAINT registrations_registered_technology_amount_fen_not_negative CHECK (registered_technology_amount_fen >= 0);
ALTER TABLE payments ADD CONSTRAINT payments_amount_fen_not_negative CHECK (amount_fen >= 0);
ALTER TABLE payments ADD CONSTRAINT payments_refunded_amount_fen_not_negative CHECK (refunded_amount_fen >= 0);
ALTER TABLE payments ADD CONSTRAINT payments_refund_within_amount CHECK (refunded_amount_fen <= amount_fen);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_computed_amount_fen_not_negative CHECK (computed_amount_fen >= 0);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_approved_amount_fen_not_negative CHECK (approved_amount_fen >= 0);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_final_amount_fen_not_negative CHECK (final_amount_fen >= 0);
ALTER TABLE claim_reviews ADD CONSTRAINT claim_reviews_amount_fen_not_negative CHECK (amount_fen >= 0);
ALTER TABLE subsidy_rounds ADD CONSTRAINT subsidy_rounds_budget_fen_not_negative CHECK (budget_fen >= 0);
ALTER TABLE subsidy_rounds ADD CONSTRAINT subsidy_rounds_total_approved_fen_not_negative CHECK (total_approved_fen >= 0);
ALTER TABLE subsidy_rounds ADD CONSTRAINT subsidy_rounds_total_final_fen_not_negative CHECK (total_final_fen >= 0);
ALTER TABLE disbursements ADD CONSTRAINT disbursements_amount_fen_not_negative CHECK (amount_fen >= 0);
