-- An agency (技术转移机构) named on a deal by the buyer must accept before it
-- sees the deal or counts for a subsidy: 'invited', 'accepted' or
-- 'declined'; NULL when the deal names no agency. Agencies named before
-- consent existed were attached under the old rule and stay attached.
ALTER TABLE deals ADD COLUMN agency_status TEXT;
UPDATE deals SET agency_status = 'accepted' WHERE agency_organization_id IS NOT NULL;
