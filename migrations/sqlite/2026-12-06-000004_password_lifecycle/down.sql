DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN must_change_password;
ALTER TABLE users DROP COLUMN password_changed_at;
