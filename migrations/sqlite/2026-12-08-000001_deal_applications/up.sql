-- A platform deal's contract is registered through an application too
-- (registration_applications.deal_id): at most one is open or in force for
-- a deal at a time; a refused or cancelled one leaves room for the next.
CREATE UNIQUE INDEX registration_applications_deal ON registration_applications (deal_id)
    WHERE deal_id IS NOT NULL AND status NOT IN ('refused', 'cancelled');
-- A contract in dispute gets the longer time limit (30 working days).
ALTER TABLE registration_applications ADD COLUMN disputed BOOLEAN NOT NULL DEFAULT FALSE;
