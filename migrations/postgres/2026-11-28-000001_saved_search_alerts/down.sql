DROP TABLE saved_search_alerts;
