//! Nothing is lost or corrupted below the API: the database itself refuses
//! negative money, whatever path a write takes.

#![allow(clippy::unwrap_used)]

use diesel::RunQueryDsl;
use serde_json::json;
use techtrade_tests::on_both_databases;

on_both_databases! {
    async fn the_database_refuses_negative_money(app: TestApp) {
        let seller = app.register_org("university").await;
        let listing = app
            .post(
                "/api/v1/listings",
                Some(&seller.token),
                json!({"kind": "achievement", "title": "盐湖提锂吸附剂", "summary": "中试", "ipc": ["C22B26/12"],
                       "maturity": "pilot", "trade_modes": ["assignment"], "price_fen": 100, "negotiable": false,
                       "region_code": "630100"}),
            )
            .await;
        listing.assert_status(201);
        let id = listing.json["id"].as_str().unwrap();
        let demand = app
            .post(
                "/api/v1/demands",
                Some(&seller.token),
                json!({"title": "锂电池回收", "description": "寻求技术", "budget_min_fen": 1, "budget_max_fen": 2,
                       "negotiable": true, "trade_modes": ["assignment"], "region_code": "630100"}),
            )
            .await;
        demand.assert_status(201);
        let demand_id = demand.json["id"].as_str().unwrap();

        let mut conn = app.database.connect();
        let set = |table: &str, column: &str, value: i64, id: &str| {
            format!("UPDATE {table} SET {column} = {value} WHERE id = '{id}'")
        };
        for (table, column, row) in [("listings", "price_fen", id), ("demands", "budget_min_fen", demand_id)] {
            let refused = diesel::sql_query(set(table, column, -1, row)).execute(&mut conn);
            assert!(refused.is_err(), "{table}.{column} = -1 was stored");
            // The same statement with a valid amount goes through: it is the
            // sign that is refused, not the statement.
            assert_eq!(diesel::sql_query(set(table, column, 0, row)).execute(&mut conn).unwrap(), 1);
        }
        let inserted = diesel::sql_query(format!(
            "INSERT INTO subsidy_rounds (id, program_id, year, status, budget_fen, total_approved_fen, total_final_fen, closed_by, closed_at) \
             VALUES ('r1', 'sanming', 2020, 'publicized', NULL, -5, 0, '{}', '2026-01-01 00:00:00')",
            seller.user_id
        ))
        .execute(&mut conn);
        assert!(inserted.is_err(), "a negative total was inserted");
        let message = inserted.unwrap_err().to_string();
        assert!(message.contains("negative") || message.contains("not_negative"), "{message}");
    }
}
