//! The worker against a real SMTP server process (aiosmtpd, see
//! `techtrade_notify::testing`) on SQLite and PostgreSQL: who receives
//! what, in which language; retries while the server is down; permanent
//! failures; several workers; a claim whose worker died.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use techtrade_db::accounts::{self, Organization, User};
use techtrade_db::emails::{self, EmailStatus, SentEmail};
use techtrade_db::outbox;
use techtrade_db::testing::TestDatabase;
use techtrade_notify::events::samples;
use techtrade_notify::testing::{ReceivedMessage, SmtpSink, free_port};
use techtrade_notify::{Mailer, RetryPolicy, Settings, SmtpUrl, Templates, TransportConfig, Worker};

/// Writes the test body once, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(techtrade_db::testing::TestDatabase::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(database) = techtrade_db::testing::TestDatabase::postgres() {
                    super::$name(database).await
                }
            }
        }
    };
}

fn organization(conn: &mut techtrade_db::AnyConnection, id: &str, name: &str, credit_code: &str) {
    let now = techtrade_db::now();
    accounts::insert_organization(
        conn,
        &Organization {
            id: id.into(),
            name: name.into(),
            kind: "enterprise".into(),
            credit_code: credit_code.into(),
            region_code: "630100".into(),
            created_at: now,
            updated_at: now,
            version: 1,
        },
    )
    .unwrap();
}

fn user(conn: &mut techtrade_db::AnyConnection, id: &str, organization: &str, email: &str, name: &str, locale: &str) {
    let now = techtrade_db::now();
    accounts::insert_user(
        conn,
        &User {
            id: id.into(),
            organization_id: Some(organization.into()),
            email: email.into(),
            name: name.into(),
            password_hash: "-".into(),
            role: "member".into(),
            locale: locale.into(),
            disabled_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            organization_role: "member".into(),
            password_changed_at: None,
            must_change_password: false,
        },
    )
    .unwrap();
}

/// The sample organisations: the seller with one Chinese-reading member
/// (who registered it), the buyer with a Chinese and an English reader and
/// a disabled member.
fn seed(database: &TestDatabase) {
    let mut conn = database.connect();
    organization(&mut conn, samples::SELLER, "青海盐湖新材料研究院", "12630000MB0000001X");
    organization(&mut conn, samples::BUYER, "西宁高原光伏科技有限公司", "91630100MA0000002X");
    user(&mut conn, "user-seller", samples::SELLER, "lisi@seller.example.cn", "李四", "zh-CN");
    user(&mut conn, "user-buyer", samples::BUYER, "zhangsan@buyer.example.cn", "张三", "zh-CN");
    user(&mut conn, "user-buyer-en", samples::BUYER, "jane@buyer.example.com", "Jane Doe", "en");
    user(&mut conn, "user-buyer-gone", samples::BUYER, "gone@buyer.example.cn", "王五", "zh-CN");
    use diesel::prelude::*;
    use techtrade_db::schema::users;
    diesel::update(users::table.find("user-buyer-gone"))
        .set(users::disabled_at.eq(Some(techtrade_db::now())))
        .execute(&mut conn)
        .unwrap();
}

fn emit(database: &TestDatabase, event_type: &str, aggregate_type: &str, payload: &serde_json::Value) -> i64 {
    outbox::emit(&mut database.connect(), event_type, aggregate_type, "agg-1", payload).unwrap()
}

fn sample(event_type: &str) -> serde_json::Value {
    samples::all().into_iter().find(|(e, ..)| *e == event_type).unwrap().2
}

fn settings() -> Settings {
    Settings {
        batch_size: 7,
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy { base: Duration::from_millis(200), cap: Duration::from_secs(1), max_attempts: 4 },
        send_timeout: Duration::from_secs(10),
        site_url: "https://market.example.cn".into(),
        program_names: BTreeMap::from([("qinghai".into(), "青海省技术交易后补助".into())]),
        failpoint: None,
    }
}

fn smtp_worker(database: &TestDatabase, url: &str, settings: Settings) -> Worker {
    let transport = TransportConfig::Smtp { url: SmtpUrl::parse(url).unwrap(), timeout: Duration::from_secs(5) };
    let mailer = Mailer::new(&transport, "技术交易市场 <noreply@market.example.cn>").unwrap();
    Worker::new(database.db.clone(), mailer, Templates::new().unwrap(), settings)
}

/// The emails the sample events (`samples::all`) plan: 1 welcome, 1 account
/// locked, 1 recovery code used, 1 password reset, 1 + 2 listing/demand,
/// 1 + 2 offers, 6 × 3 deal, payment: 1 recorded + 3 × 3 confirmed,
/// failed, refunded + 2 rejected (the buyer) + 1 withdrawn (the seller) + 3
/// needs refund, 1 search, 2 claim reviewed, 2 claim not in the round, 3
/// round, 4 registration decisions and findings (the seller; the queue's go
/// to officials, of whom the seed has none).
const SAMPLE_EMAILS: usize = 56;

fn all_emails(database: &TestDatabase) -> Vec<SentEmail> {
    let mut conn = database.connect();
    let mut all = Vec::new();
    for status in EmailStatus::ALL {
        all.extend(emails::with_status(&mut conn, status, 1000).unwrap());
    }
    all
}

fn received_by<'a>(messages: &'a [ReceivedMessage], address: &str) -> Vec<&'a ReceivedMessage> {
    messages.iter().filter(|m| m.rcpt_tos == [address]).collect()
}

/// Every sample event reaches the active members of the right
/// organisations, each in their language, with Chinese intact; and running
/// again, even from the start of the outbox, sends nothing more.
async fn every_event_reaches_the_right_people(database: TestDatabase) {
    seed(&database);
    for (event_type, aggregate, payload) in samples::all() {
        emit(&database, event_type, aggregate, &payload);
    }
    emit(&database, "user.created", "user", &serde_json::json!({"id": "x"}));
    let sink = SmtpSink::start();
    let worker = smtp_worker(&database, &sink.url(), settings());
    let report = worker.run_until_idle().await.unwrap();
    assert_eq!(report.events, samples::all().len() + 1);
    assert_eq!(
        (report.planned, report.sent, report.failed, report.unknown),
        (SAMPLE_EMAILS, SAMPLE_EMAILS, 0, 0),
        "{report:?}"
    );
    let messages = sink.wait_for(SAMPLE_EMAILS, Duration::from_secs(10));
    assert_eq!(messages.len(), SAMPLE_EMAILS);

    assert!(received_by(&messages, "gone@buyer.example.cn").is_empty(), "disabled users get nothing");
    let seller = received_by(&messages, "lisi@seller.example.cn");
    let buyer = received_by(&messages, "zhangsan@buyer.example.cn");
    let english = received_by(&messages, "jane@buyer.example.com");
    // Seller: welcome, account locked, recovery code used, password reset,
    // listing approved, the buyer's opening offer, 6 deal steps, payment
    // recorded + 3, withdrawn, needs refund, the round, and the
    // registration office's request for material, finding of a dispute,
    // registration and refusal.
    assert_eq!(seller.len(), 1 + 1 + 1 + 1 + 1 + 1 + 6 + 1 + 3 + 1 + 1 + 1 + 4);
    let disputed = seller.iter().find(|m| m.subject.contains("合同有争议")).expect("the dispute email");
    assert!(disputed.text.as_deref().unwrap().contains("办理截止日期：2026-11-13"), "{:?}", disputed.text);
    let refused = seller.iter().find(|m| m.subject.contains("未予登记")).expect("the refusal email");
    assert!(refused.text.as_deref().unwrap().contains("理由：当事人不明确"), "{:?}", refused.text);
    let recovery = seller.iter().find(|m| m.subject.contains("恢复码")).expect("the recovery code email");
    assert!(recovery.text.as_deref().unwrap().contains("还剩 9 个恢复码"), "{:?}", recovery.text);
    let locked = seller.iter().find(|m| m.subject.contains("锁定")).expect("the lock-out email");
    assert_eq!(locked.subject, "您的技术交易市场账户因多次登录失败已锁定至 2026-12-06 12:30");
    assert!(locked.text.as_deref().unwrap().contains("已被锁定 30 分钟"), "{:?}", locked.text);
    // The reset's token is in the e-mail, derived as it was sent; the
    // stored record holds only the reset's id.
    let reset = seller.iter().find(|m| m.subject.contains("重设")).expect("the password reset email");
    let token = techtrade_db::audit::derived_token(techtrade_db::audit::PASSWORD_RESET, "reset-1").unwrap();
    assert!(reset.text.as_deref().unwrap().contains(&format!("/password-reset?token={token}")), "{:?}", reset.text);
    let stored: Vec<Option<String>> = {
        use diesel::prelude::*;
        let mut conn = database.connect();
        techtrade_db::schema::sent_emails::table
            .select(techtrade_db::schema::sent_emails::context)
            .load(&mut conn)
            .unwrap()
    };
    assert!(stored.iter().flatten().all(|context| !context.contains(&token)), "no token is stored");
    // Buyers: demand rejected, the counter-offer, 6 deal steps, 3 payment
    // outcomes, rejected, needs refund, the claim reviewed, the claim left
    // out of the round, the round; the saved search is 张三's alone.
    assert_eq!(buyer.len(), 1 + 1 + 6 + 3 + 1 + 1 + 1 + 1 + 1 + 1);
    assert_eq!(english.len(), 1 + 1 + 6 + 3 + 1 + 1 + 1 + 1 + 1);

    let welcome = seller.iter().find(|m| m.subject.contains("欢迎")).expect("the welcome email");
    assert_eq!(welcome.subject, "欢迎加入技术交易市场：青海盐湖新材料研究院 已完成注册");
    assert_eq!(welcome.to, "李四 <lisi@seller.example.cn>");
    assert_eq!(welcome.mail_from, "noreply@market.example.cn");
    assert_eq!(welcome.content_type, "multipart/alternative");
    assert!(
        welcome
            .text
            .as_deref()
            .unwrap()
            .contains("李四，您好：\n\n您的机构「青海盐湖新材料研究院」已在技术交易市场完成注册")
    );
    assert!(welcome.html.as_deref().unwrap().contains("<p>李四，您好：</p>"));

    let offer = seller.iter().find(|m| m.subject.starts_with("新报价")).expect("the opening offer");
    assert_eq!(offer.subject, "新报价：「一种锂电池正极材料及其制备方法」¥500,000.00");
    assert!(
        offer
            .text
            .as_deref()
            .unwrap()
            .contains("西宁高原光伏科技有限公司 就「一种锂电池正极材料及其制备方法」向您发起洽谈")
    );
    assert!(offer.html.as_deref().unwrap().contains("<td>独占许可</td>"));

    let rejected = english.iter().find(|m| m.subject.contains("not approved")).expect("the rejection, in English");
    assert_eq!(rejected.subject, "Your demand “高原光伏组件除尘技术需求” was not approved");
    assert!(
        rejected.text.as_deref().unwrap().contains("Reviewer's reason: 需求描述过于简略，请补充技术指标 <例如功率>")
    );
    assert!(rejected.html.as_deref().unwrap().contains("需求描述过于简略，请补充技术指标 &lt;例如功率&gt;"));
    let claim = buyer.iter().find(|m| m.subject.starts_with("补助申请初审")).expect("the claim decision");
    assert_eq!(claim.subject, "补助申请初审通过：青海省技术交易后补助（2026 年度）");
    let left_out = buyer.iter().find(|m| m.subject.starts_with("补助申请未纳入")).expect("the claim left out");
    assert_eq!(left_out.subject, "补助申请未纳入本年度轮次：青海省技术交易后补助（2026 年度）");
    assert!(left_out.text.as_deref().unwrap().contains("尚待复审，未纳入本轮次"), "{:?}", left_out.text);
    assert!(left_out.text.as_deref().unwrap().contains("说明：补正材料逾期未提交 <截止 1 月 31 日>"));
    assert!(received_by(&messages, "zhangsan@buyer.example.cn").iter().any(|m| m.subject.contains("您订阅的检索")));

    // Every message recorded as sent, with its Message-ID.
    let recorded = all_emails(&database);
    assert_eq!(recorded.len(), SAMPLE_EMAILS);
    for email in &recorded {
        assert_eq!(email.status, "sent", "{email:?}");
        assert_eq!(email.attempts, 1);
        let message_id = email.message_id.as_deref().unwrap();
        assert_eq!(messages.iter().filter(|m| m.message_id == message_id).count(), 1, "{message_id}");
    }

    // A replay of the whole outbox plans nothing new and sends nothing.
    {
        use diesel::prelude::*;
        use techtrade_db::schema::outbox_cursors;
        diesel::update(outbox_cursors::table.find("notify"))
            .set(outbox_cursors::last_event_id.eq(0i64))
            .execute(&mut database.connect())
            .unwrap();
    }
    let again = worker.run_until_idle().await.unwrap();
    assert_eq!((again.events, again.planned, again.sent), (samples::all().len() + 1, 0, 0), "{again:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages().len(), SAMPLE_EMAILS);
}
on_both_databases!(every_event_reaches_the_right_people);

/// With the SMTP server down, attempts fail as retryable; once it is up,
/// the next due attempt delivers, once.
async fn a_server_down_means_retries_and_no_loss(database: TestDatabase) {
    seed(&database);
    emit(&database, "payment.recorded", "payment", &sample("payment.recorded"));
    let port = free_port();
    let worker = smtp_worker(&database, &format!("smtp+plain://127.0.0.1:{port}"), settings());

    let first = worker.run_once().await.unwrap();
    assert_eq!((first.planned, first.sent, first.retrying), (1, 0, 1), "{first:?}");
    let email = all_emails(&database).pop().unwrap();
    assert_eq!((email.status.as_str(), email.attempts), ("retrying", 1));
    assert!(email.last_error.as_deref().unwrap().to_lowercase().contains("connection"), "{email:?}");
    let due = email.next_attempt_at.unwrap();
    assert!(due > email.updated_at.unwrap(), "the retry waits");

    // Still down at the second attempt: the wait doubles.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = worker.run_once().await.unwrap();
    assert_eq!(second.retrying, 1, "{second:?}");
    let email = all_emails(&database).pop().unwrap();
    assert_eq!(email.attempts, 2);
    let wait = email.next_attempt_at.unwrap() - email.updated_at.unwrap();
    assert!(wait >= chrono::Duration::milliseconds(400), "{wait:?}");

    let sink = SmtpSink::start_on(port);
    let mut sent = 0;
    for _ in 0..40 {
        sent += worker.run_once().await.unwrap().sent;
        if sent > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 1);
    let messages = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_tos, ["lisi@seller.example.cn"]);
    assert_eq!(messages[0].subject, "请确认收款：「一种锂电池正极材料及其制备方法」¥12,345.67");
    let email = all_emails(&database).pop().unwrap();
    assert_eq!((email.status.as_str(), email.attempts), ("sent", 3));
    assert!(email.last_error.is_none());
}
on_both_databases!(a_server_down_means_retries_and_no_loss);

/// A 5xx answer fails the email at once; 4xx answers until the attempts run
/// out fail it too; either way the error is recorded, and the other
/// recipients of the same event still get theirs.
async fn failures_are_recorded_and_do_not_stop_others(database: TestDatabase) {
    seed(&database);
    let mut conn = database.connect();
    user(&mut conn, "user-reject", samples::SELLER, "reject@seller.example.cn", "拒收", "zh-CN");
    user(&mut conn, "user-tempfail", samples::SELLER, "tempfail@seller.example.cn", "暂缓", "en");
    drop(conn);
    emit(&database, "payment.recorded", "payment", &sample("payment.recorded"));
    let sink = SmtpSink::start();
    let mut settings = settings();
    settings.retry = RetryPolicy { base: Duration::from_millis(100), cap: Duration::from_millis(100), max_attempts: 2 };
    let worker = smtp_worker(&database, &sink.url(), settings);
    let first = worker.run_once().await.unwrap();
    assert_eq!((first.planned, first.sent, first.failed, first.retrying), (3, 1, 1, 1), "{first:?}");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = worker.run_until_idle().await.unwrap();
    assert_eq!(second.failed, 1, "{second:?}");

    let by_recipient: BTreeMap<String, SentEmail> =
        all_emails(&database).into_iter().map(|e| (e.recipient.clone(), e)).collect();
    let rejected = &by_recipient["reject@seller.example.cn"];
    assert_eq!((rejected.status.as_str(), rejected.attempts), ("failed", 1));
    assert!(rejected.last_error.as_deref().unwrap().contains("550"), "{rejected:?}");
    let deferred = &by_recipient["tempfail@seller.example.cn"];
    assert_eq!((deferred.status.as_str(), deferred.attempts), ("failed", 2));
    assert!(deferred.last_error.as_deref().unwrap().contains("451"), "{deferred:?}");
    assert_eq!(by_recipient["lisi@seller.example.cn"].status, "sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_tos, ["lisi@seller.example.cn"]);
}
on_both_databases!(failures_are_recorded_and_do_not_stop_others);

/// Two workers over the same database and outbox (issue #8 runs N): every
/// email is claimed by one of them and sent once.
async fn two_workers_send_each_email_once(database: TestDatabase) {
    seed(&database);
    for _ in 0..4 {
        for (event_type, aggregate, payload) in samples::all() {
            emit(&database, event_type, aggregate, &payload);
        }
    }
    let sink = SmtpSink::start();
    let one = smtp_worker(&database, &sink.url(), settings());
    let two = smtp_worker(&database, &sink.url(), settings());
    let (a, b) = tokio::join!(one.run_until_idle(), two.run_until_idle());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.planned + b.planned, 4 * SAMPLE_EMAILS, "{a:?} {b:?}");
    assert_eq!(a.sent + b.sent, 4 * SAMPLE_EMAILS, "{a:?} {b:?}");
    let messages = sink.wait_for(4 * SAMPLE_EMAILS, Duration::from_secs(20));
    assert_eq!(messages.len(), 4 * SAMPLE_EMAILS);
    let mut ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4 * SAMPLE_EMAILS, "a Message-ID arrived twice");
    assert!(all_emails(&database).iter().all(|e| e.status == "sent" && e.attempts == 1));
}
on_both_databases!(two_workers_send_each_email_once);

/// A worker that claimed an email and died (here: sent it, then never
/// recorded anything) leaves it `sending`; once the lease ends the next
/// pass marks it `unknown` and never sends it again.
async fn a_dead_workers_claim_becomes_unknown_not_a_resend(database: TestDatabase) {
    seed(&database);
    emit(&database, "deal.completed", "deal", &sample("deal.completed"));
    let sink = SmtpSink::start();
    let mut settings = settings();
    settings.send_timeout = Duration::from_millis(500);
    let worker = smtp_worker(&database, &sink.url(), settings);
    assert_eq!(worker.plan_once().await.unwrap().planned, 3);

    // The dying worker: claims the seller's email and sends it by hand.
    let email = all_emails(&database).into_iter().find(|e| e.recipient == "lisi@seller.example.cn").unwrap();
    let now = techtrade_db::now();
    assert!(emails::claim(&mut database.connect(), &email, now, now + chrono::Duration::seconds(1)).unwrap());
    let transport =
        TransportConfig::Smtp { url: SmtpUrl::parse(&sink.url()).unwrap(), timeout: Duration::from_secs(5) };
    let mailer = Mailer::new(&transport, "noreply@market.example.cn").unwrap();
    let rendered = techtrade_notify::Rendered { subject: "dying".into(), text: "t".into(), html: "h".into() };
    let message = mailer.compose(&email.id, "李四", &email.recipient, &rendered).unwrap();
    mailer.send(message, Duration::from_secs(5)).await.unwrap();

    // The lease still runs: the others go out, the claimed one is left alone.
    let report = worker.run_until_idle().await.unwrap();
    assert_eq!((report.sent, report.unknown), (2, 0), "{report:?}");
    let claimed = all_emails(&database).into_iter().find(|e| e.id == email.id).unwrap();
    assert_eq!(claimed.status, "sending");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = worker.run_until_idle().await.unwrap();
    assert_eq!((report.sent, report.unknown), (0, 1), "{report:?}");
    let claimed = all_emails(&database).into_iter().find(|e| e.id == email.id).unwrap();
    assert_eq!((claimed.status.as_str(), claimed.attempts), ("unknown", 1));
    assert!(claimed.last_error.as_deref().unwrap().contains("may have accepted"));
    let again = worker.run_until_idle().await.unwrap();
    assert_eq!(again.sent, 0);
    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(received_by(&messages, "lisi@seller.example.cn").len(), 1, "never twice");
}
on_both_databases!(a_dead_workers_claim_becomes_unknown_not_a_resend);

/// Without SMTP, mail is written as .eml files a newcomer can open.
async fn the_file_transport_writes_eml_files(database: TestDatabase) {
    seed(&database);
    emit(&database, "organization.registered", "organization", &sample("organization.registered"));
    let dir = tempfile::tempdir().unwrap();
    let transport = TransportConfig::File { dir: dir.path().join("mail") };
    let mailer = Mailer::new(&transport, "techtrade <noreply@techtrade.invalid>").unwrap();
    let worker = Worker::new(database.db.clone(), mailer, Templates::new().unwrap(), settings());
    let report = worker.run_until_idle().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("mail")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: =?utf-8?b?") || eml.contains("To: \"=?utf-8?b?"), "{eml}");
    assert!(eml.contains("Content-Type: multipart/alternative"), "{eml}");
    assert!(eml.contains("lisi@seller.example.cn"), "{eml}");
}
on_both_databases!(the_file_transport_writes_eml_files);

/// The background loop picks up new events by itself and stops when told.
async fn the_loop_delivers_and_stops_on_request(database: TestDatabase) {
    seed(&database);
    let sink = SmtpSink::start();
    let worker = smtp_worker(&database, &sink.url(), settings());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    emit(&database, "saved_search.matched", "saved_search", &sample("saved_search.matched"));
    let messages = tokio::task::spawn_blocking(move || {
        let messages = sink.wait_for(1, Duration::from_secs(10));
        drop(sink);
        messages
    })
    .await
    .unwrap();
    assert_eq!(messages[0].rcpt_tos, ["zhangsan@buyer.example.cn"]);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running).await.expect("the loop stops").unwrap();
}
on_both_databases!(the_loop_delivers_and_stops_on_request);

/// Among N workers planning is fenced by its lease: a worker that no longer
/// holds it plans nothing and leaves the cursor; the holder plans.
async fn a_worker_without_its_lease_plans_nothing(database: TestDatabase) {
    use techtrade_db::leases::{self, Fence};
    seed(&database);
    emit(&database, "organization.registered", "organization", &sample("organization.registered"));
    let now = techtrade_db::now();
    assert!(leases::acquire(&mut database.connect(), "notify", "holder", now, now + Duration::from_secs(60)).unwrap());
    // Planning never talks to SMTP.
    let worker = smtp_worker(&database, "smtp+plain://127.0.0.1:1", settings());
    let fence = |holder: &str| Fence { consumer: "notify", holder: holder.into(), lease: Duration::from_secs(60) };

    let stale = worker.fenced(Some(fence("stale")));
    assert!(matches!(stale.plan_once().await, Err(techtrade_notify::WorkerError::LeaseLost("notify"))));
    assert_eq!(outbox::cursor(&mut database.connect(), "notify").unwrap(), 0, "the cursor stays");
    assert!(all_emails(&database).is_empty(), "nothing planned");

    let report = worker.fenced(Some(fence("holder"))).plan_once().await.unwrap();
    assert_eq!((report.events, report.planned), (1, 1), "{report:?}");
    assert_eq!(
        outbox::cursor(&mut database.connect(), "notify").unwrap(),
        outbox::last_id(&mut database.connect()).unwrap()
    );
}

on_both_databases!(a_worker_without_its_lease_plans_nothing);
