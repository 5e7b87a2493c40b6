DROP TABLE consumer_leases;
