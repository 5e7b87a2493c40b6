DROP INDEX deals_one_open_per_buyer;
DROP TABLE listing_reservations;
