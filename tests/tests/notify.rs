//! Emails from what users do through the API, delivered by the notify
//! worker to a real SMTP server process: the contract between the
//! services that emit events and the mailer, end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_notify::testing::SmtpSink;
use techtrade_notify::{Mailer, Settings, SmtpUrl, Templates, TransportConfig, Worker};
use techtrade_tests::{TestApp, on_both_databases};

fn worker(app: &TestApp, sink: &SmtpSink) -> Worker {
    let transport =
        TransportConfig::Smtp { url: SmtpUrl::parse(&sink.url()).unwrap(), timeout: Duration::from_secs(5) };
    let mailer = Mailer::new(&transport, "技术交易市场 <noreply@market.example.cn>").unwrap();
    Worker::new(app.state.db.clone(), mailer, Templates::new().unwrap(), Settings::default())
}

fn listing_body() -> Value {
    json!({
        "kind": "patent",
        "title": "一种盐湖卤水提锂的铝系吸附剂及其制备方法",
        "summary": "适用于高镁锂比卤水的吸附提锂，已完成中试。",
        "ipc": ["C22B 26/12"],
        "maturity": "pilot",
        "trade_modes": ["assignment"],
        "price_fen": 150_000_000,
        "negotiable": false,
        "region_code": "632801",
        "patents": [{
            "application_number": "ZL201710601862.3",
            "publication_number": "CN107442071B",
            "patent_type": "invention",
            "title": "一种盐湖卤水提锂的铝系吸附剂及其制备方法",
            "filing_date": "2017-07-27",
            "grant_date": "2019-05-10",
            "legal_status": "granted",
        }],
    })
}

on_both_databases! {
    /// Registering sends the welcome email; a rejected listing's owner
    /// hears why, in Chinese, with the listing's title.
    async fn registration_and_moderation_send_emails(app: TestApp) {
        let sink = SmtpSink::start();
        let owner = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let created = app.post("/api/v1/listings", Some(&owner.token), listing_body()).await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");
        app.request(axum::http::Method::POST, &format!("{path}/submit"), Some(&owner.token), None).await.assert_status(200);
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "reject", "reason": "专利权人与申请单位不一致"}))
            .await
            .assert_status(200);

        let report = worker(&app, &sink).run_until_idle().await.unwrap();
        assert_eq!(report.sent, 2, "{report:?}");
        let messages = sink.wait_for(2, Duration::from_secs(5));
        assert!(messages.iter().all(|m| m.rcpt_tos == [owner.email.clone()]), "{messages:?}");
        let welcome = messages.iter().find(|m| m.subject.starts_with("欢迎")).expect("a welcome email");
        assert!(welcome.text.as_deref().unwrap().contains("已在技术交易市场完成注册"));
        let rejected = messages.iter().find(|m| m.subject.contains("未通过审核")).expect("a rejection email");
        assert_eq!(rejected.subject, "您的成果「一种盐湖卤水提锂的铝系吸附剂及其制备方法」未通过审核");
        assert!(rejected.text.as_deref().unwrap().contains("审核意见：专利权人与申请单位不一致"));
        assert!(rejected.html.as_deref().unwrap().contains("<td>专利权人与申请单位不一致</td>"));
    }
}
