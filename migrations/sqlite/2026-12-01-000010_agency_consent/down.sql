ALTER TABLE deals DROP COLUMN agency_status;
