//! Subsidy programs over HTTP: what the policy files say, for anyone.

#![allow(clippy::unwrap_used)]

use techtrade_tests::on_both_databases;

on_both_databases! {
    async fn anyone_reads_the_programs_in_force(app: TestApp) {
        let response = app.get("/api/v1/subsidy/programs", None).await;
        response.assert_status(200);
        let items = response.json["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["nanjing-2021", "qinghai", "sanming"]);

        let qinghai = &items[1];
        assert!(qinghai["placeholder_note"].as_str().unwrap().contains("占位值"), "Qinghai's rates await the authority");
        let roles: Vec<&str> = qinghai["rules"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["buyer", "seller", "agency"]);
        assert!(qinghai["summary_zh"][0].as_str().unwrap().contains("技术开发、技术转让、技术许可"));

        let nanjing = &items[0];
        assert_eq!(nanjing["budget_fen"], 5_000_000_000_i64);
        assert_eq!(nanjing["proration"], "proportional");
        assert!(nanjing["summary_en"][0].as_str().unwrap().contains("rate 5%"));
        assert_eq!(items[2]["budget_fen"], serde_json::Value::Null);
    }
}
