-- An exclusive right (an assignment, an exclusive or sole licence, a
-- contribution as equity) can be sold once. The deal that agrees one holds
-- its listing's reservation from agreement until it is cancelled or
-- terminated; a completed one keeps it. The primary key makes "at most one"
-- a property of the table, whatever races above it.
CREATE TABLE listing_reservations (
    listing_id TEXT PRIMARY KEY REFERENCES listings (id),
    deal_id TEXT NOT NULL UNIQUE REFERENCES deals (id),
    trade_mode TEXT NOT NULL,
    reserved_at TIMESTAMP NOT NULL
);

-- Deals already agreed keep their rights: the earliest agreed per listing.
INSERT INTO listing_reservations (listing_id, deal_id, trade_mode, reserved_at)
SELECT DISTINCT ON (d.listing_id) d.listing_id, d.id, o.trade_mode, COALESCE(d.agreed_at, d.created_at)
FROM deals d
JOIN offers o ON o.id = d.agreed_offer_id
WHERE d.status IN ('agreed', 'contracted', 'registered', 'completed')
  AND o.trade_mode IN ('assignment', 'exclusive_license', 'sole_license', 'equity')
ORDER BY d.listing_id, d.agreed_at, d.id;

-- A buyer negotiates a listing in one deal at a time (until the contract
-- is registered), enforced here and not only by the read before the
-- insert. Registered deals are left out: a refund can take a completed
-- deal back to registered while the buyer negotiates another.
CREATE UNIQUE INDEX deals_one_open_per_buyer ON deals (listing_id, buyer_organization_id)
    WHERE status IN ('negotiating', 'agreed', 'contracted');
