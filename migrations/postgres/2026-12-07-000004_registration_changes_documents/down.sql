DROP TABLE registration_payments;
DROP TABLE registration_documents;
DROP TABLE registration_changes;
ALTER TABLE registration_applications DROP COLUMN reminded_for;
ALTER TABLE registration_applications DROP COLUMN buyer_kind;
