-- Email delivery state for the notify worker (crates/notify, worker.rs).
--
-- A row is planned (status 'pending') in the same transaction that moves
-- the mailer's outbox cursor past its event; a worker claims it
-- ('sending', attempts + 1, lease_until) before talking to SMTP, and marks
-- it 'sent', 'retrying' (next_attempt_at), 'failed' or, when a claim's lease
-- ran out with nobody recording the outcome, 'unknown' (never resent).
ALTER TABLE sent_emails ADD COLUMN user_id TEXT;
-- What the templates render from, frozen when the email is planned.
ALTER TABLE sent_emails ADD COLUMN context TEXT;
ALTER TABLE sent_emails ADD COLUMN subject TEXT;
ALTER TABLE sent_emails ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE sent_emails ADD COLUMN lease_until TIMESTAMP;
ALTER TABLE sent_emails ADD COLUMN updated_at TIMESTAMP;
CREATE INDEX sent_emails_due ON sent_emails (status, next_attempt_at);
