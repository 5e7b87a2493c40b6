//! The market's statistics over HTTP and on the console, on both databases:
//! figures made by driving deals, registrations and a subsidy round through
//! the API, then read back for the period and region they fall in — and
//! the ones they do not.

#![allow(clippy::unwrap_used)]

use chrono::{Datelike, Duration};
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_tests::web::signed_in;
use techtrade_tests::{TestApp, on_both_databases};

use crate::subsidy::{self, WAN};

fn statistics(
    app: &TestApp,
    token: &str,
    query: &str,
) -> impl std::future::Future<Output = techtrade_tests::TestResponse> {
    let path = format!("/api/v1/statistics{query}");
    let token = token.to_string();
    async move { app.get(&path, Some(&token)).await }
}

fn contracts(figures: &Value) -> [i64; 4] {
    ["count", "total_amount_fen", "technology_amount_fen", "non_technical_amount_fen"]
        .map(|key| figures[key].as_i64().unwrap())
}

on_both_databases! {
    async fn the_figures_are_what_happened_in_the_period_and_region(app: TestApp) {
        let app = app.with_programs(vec![subsidy::small_budget_program()]);
        let m = subsidy::market(&app).await;
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        // Completed: 800万 registered with 700万 of technology, paid in full.
        let one = app.register_org("enterprise").await;
        subsidy::paid_deal(&app, &m, &one, 800 * WAN, 100 * WAN, 800 * WAN, false).await;
        // Registered, unpaid: 300万 with 250万 of technology.
        let two = app.register_org("enterprise").await;
        subsidy::registered_deal(&app, &m, &two, 300 * WAN, 50 * WAN, false).await;
        // Opened only.
        let three = app.register_org("enterprise").await;
        let offer = json!({"listing_id": m.listing_id, "offer": {"amount_fen": WAN, "trade_mode": "nonexclusive_license"}});
        app.post("/api/v1/deals", Some(&three.token), offer).await.assert_status(201);
        // A fourth deal, 1200万 all technology and paid, claims 5% = 60万,
        // approved at both levels; the round closes within its budget and
        // its disbursement is paid today.
        let (_, claim) = subsidy::approved_claim(&app, &m, 1200 * WAN, &first, &second).await;
        let close = json!({"program_id": "budget-test", "year": subsidy::year()});
        let round = app.post("/api/v1/subsidy/rounds", Some(&first), close).await;
        round.assert_status(201);
        let round_id = round.json["id"].as_str().unwrap();
        let disbursements = app.get(&format!("/api/v1/subsidy/rounds/{round_id}/disbursements"), Some(&first)).await;
        let disbursement = disbursements.json["items"][0]["id"].as_str().unwrap();
        assert_eq!(disbursements.json["items"][0]["claim_id"], claim);
        let paid = json!({"paid_on": techtrade_db::today().to_string(), "reference": "国库支付-0001"});
        app.post(&format!("/api/v1/subsidy/disbursements/{disbursement}/paid"), Some(&first), paid).await.assert_status(200);

        // This year so far, the whole market (the defaults).
        let report = statistics(&app, &first, "").await;
        report.assert_status(200);
        let r = &report.json;
        let today = techtrade_db::today();
        assert_eq!(r["from"], format!("{}-01-01", today.year()));
        assert_eq!(r["to"], today.to_string());
        assert_eq!(r["region"], Value::Null);
        assert_eq!(r["listings_published"], 1);
        assert_eq!(r["demands_published"], 0);
        assert_eq!(r["deals_opened"], 4);
        assert_eq!(r["deals_completed"], 2);
        // 800 + 300 + 1200 万; technology 700 + 250 + 1200; the rest non-technical.
        assert_eq!(contracts(&r["contracts"]), [3, 2300 * WAN, 2150 * WAN, 150 * WAN]);
        let categories: Vec<&str> = r["by_category"].as_array().unwrap().iter().map(|c| c["category"].as_str().unwrap()).collect();
        assert_eq!(categories, ["development", "transfer", "license", "consulting", "service"]);
        assert_eq!(contracts(&r["by_category"][2]["contracts"]), [3, 2300 * WAN, 2150 * WAN, 150 * WAN]);
        assert_eq!(contracts(&r["by_category"][0]["contracts"]), [0, 0, 0, 0]);
        let months = r["by_month"].as_array().unwrap();
        assert_eq!(months.len(), today.month() as usize, "every month of the year so far");
        let this_month = months.last().unwrap();
        assert_eq!(this_month["month"], format!("{}-{:02}", today.year(), today.month()));
        assert_eq!((this_month["deals_opened"].as_i64(), this_month["deals_completed"].as_i64()), (Some(4), Some(2)));
        assert_eq!(contracts(&this_month["contracts"])[0], 3);
        // The seller is in Xining (6301); its listing in Haixi (632801).
        let places = r["by_prefecture"].as_array().unwrap();
        assert_eq!(places.len(), 1);
        assert_eq!(places[0]["prefecture"], "6301");
        assert_eq!(contracts(&places[0]["contracts"]), [3, 2300 * WAN, 2150 * WAN, 150 * WAN]);
        let program = &r["subsidies"][0];
        assert_eq!(program["program_id"], "budget-test");
        assert_eq!(program["program_name"], "预算测试");
        for stage in ["approved", "awarded", "paid"] {
            assert_eq!(program[format!("{stage}_claims")], 1, "{stage}");
            assert_eq!(program[format!("{stage}_amount_fen")], 60 * WAN, "{stage}");
        }

        // By region: the listing counts where it is, deals where the seller is.
        let haixi = statistics(&app, &first, "?region=6328").await;
        assert_eq!((haixi.json["listings_published"].as_i64(), haixi.json["deals_opened"].as_i64()), (Some(1), Some(0)));
        assert_eq!(haixi.json["subsidies"][0]["paid_claims"], 0);
        let xining = statistics(&app, &first, "?region=6301").await;
        assert_eq!((xining.json["listings_published"].as_i64(), xining.json["deals_opened"].as_i64()), (Some(0), Some(4)));
        assert_eq!(statistics(&app, &first, "?region=63").await.json["deals_opened"], 4);
        assert_eq!(statistics(&app, &first, "?region=64").await.json["deals_opened"], 0);

        // Yesterday holds none of it.
        let yesterday = today - Duration::days(1);
        let before = statistics(&app, &first, &format!("?from={yesterday}&to={yesterday}")).await;
        before.assert_status(200);
        assert_eq!(before.json["deals_opened"], 0);
        assert_eq!(contracts(&before.json["contracts"]), [0, 0, 0, 0]);
        assert_eq!(before.json["subsidies"][0]["paid_claims"], 0);
        assert_eq!(before.json["by_prefecture"], json!([]));

        // Who may ask, and what is refused on its field.
        app.get("/api/v1/statistics", None).await.assert_status(401);
        statistics(&app, &one.token, "").await.assert_problem(403, "forbidden");
        let (_, admin) = app.staff(Role::Admin).await;
        statistics(&app, &admin, "").await.assert_status(200);
        let reversed = statistics(&app, &first, &format!("?from={today}&to={yesterday}")).await;
        reversed.assert_problem(400, "invalid_query");
        assert_eq!(reversed.json["errors"][0]["field"], "to");
        assert_eq!(reversed.json["errors"][0]["code"], "before_from");
        let region = statistics(&app, &first, "?region=630").await;
        region.assert_problem(400, "invalid_query");
        assert_eq!(region.json["errors"][0]["code"], "bad_format");
        statistics(&app, &first, "?from=2010-01-01&to=2026-01-01").await.assert_problem(400, "invalid_query");
    }
}

on_both_databases! {
    async fn the_console_shows_the_figures_and_hands_them_out_as_csv_and_excel(app: TestApp) {
        let m = subsidy::market(&app).await;
        let buyer = app.register_org("enterprise").await;
        subsidy::registered_deal(&app, &m, &buyer, 300 * WAN, 50 * WAN, false).await;
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = signed_in(&app, &official.email, &official.password).await;

        let page = browser.get("/console/statistics").await;
        page.assert_status(200);
        assert!(page.text.contains("id=\"stat-contracts\" data-count=\"1\""), "{}", page.text);
        assert!(page.text.contains(&format!("id=\"stat-total\" data-fen=\"{}\"", 300 * WAN)));
        assert!(page.text.contains(&format!("id=\"stat-technology\" data-fen=\"{}\"", 250 * WAN)));
        // Charts drawn on the server, each named, each beside its table.
        assert!(page.text.contains("<svg role=\"img\" aria-label=\"各类别认定登记合同金额（万元）\""));
        for table in ["by-category", "by-month", "by-prefecture", "subsidies"] {
            assert!(page.text.contains(&format!("<table class=\"statistics\" id=\"{table}\"")), "{table}");
        }
        // The region choice offers where the market's organisations are.
        assert!(page.text.contains("<option value=\"6301\""), "Xining");
        assert!(page.text.contains("href=\"/console/statistics/export.xlsx?from="));

        let refused = browser.get("/console/statistics?from=2026-03-01&to=2026-02-01").await;
        refused.assert_status(400);
        assert!(refused.text.contains("id=\"to-error\">截止日期早于起始日期。<"), "{}", refused.text);
        assert!(refused.text.contains("value=\"2026-02-01\""), "what was typed is kept");
        let typo = browser.get("/console/statistics?from=2026-13-01").await;
        typo.assert_status(400);
        assert!(typo.text.contains("id=\"from-error\""));

        let csv = browser.get("/console/statistics/export.csv").await;
        csv.assert_status(200);
        assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
        assert!(csv.header("content-disposition").starts_with("attachment; filename=\"techtrade-statistics-"));
        assert!(csv.text.contains(&format!("\ntotal,,total_amount_fen,{}\n", 300 * WAN)), "{}", csv.text);
        assert!(csv.text.contains(&format!("\ncategory,license,technology_amount_fen,{}\n", 250 * WAN)));
        let xlsx = browser.get("/console/statistics/export.xlsx").await;
        xlsx.assert_status(200);
        assert_eq!(xlsx.header("content-type"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        assert!(xlsx.text.starts_with("PK\u{3}\u{4}"), "an xlsx is a zip archive");

        let mut member = signed_in(&app, &buyer.email, &buyer.password).await;
        member.get("/console/statistics").await.assert_status(403);
        member.get("/console/statistics/export.xlsx").await.assert_status(403);
    }
}
