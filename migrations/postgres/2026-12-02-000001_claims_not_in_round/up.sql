-- Why a claim is where it is, when its status alone does not say: a claim
-- still under review when its year's round closed ("pending": "exclude")
-- is `not_in_round`, and this says why (the official's words, or the
-- standard sentence).
ALTER TABLE subsidy_claims ADD COLUMN status_reason TEXT;
