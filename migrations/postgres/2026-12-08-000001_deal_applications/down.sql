ALTER TABLE registration_applications DROP COLUMN disputed;
DROP INDEX registration_applications_deal;
