DROP INDEX sent_emails_due;
ALTER TABLE sent_emails DROP COLUMN updated_at;
ALTER TABLE sent_emails DROP COLUMN lease_until;
ALTER TABLE sent_emails DROP COLUMN next_attempt_at;
ALTER TABLE sent_emails DROP COLUMN subject;
ALTER TABLE sent_emails DROP COLUMN context;
ALTER TABLE sent_emails DROP COLUMN user_id;
