-- A member's role in its organisation: its administrators (the first
-- member, and whom they name) add, disable and remove members and hand the
-- role on; the others act for it. Staff have no organisation role.
ALTER TABLE users ADD COLUMN organization_role TEXT NOT NULL DEFAULT 'member';
-- The first member of each organisation (its registering user) administers it.
UPDATE users SET organization_role = 'admin'
 WHERE role = 'member' AND organization_id IS NOT NULL
   AND created_at = (SELECT MIN(first.created_at) FROM users first
                      WHERE first.organization_id = users.organization_id AND first.role = 'member');
