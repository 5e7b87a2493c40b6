//! The web front through the router, on both databases: pages, languages,
//! sessions in cookies, CSRF, errors on their fields, fragments for htmx.

#![allow(clippy::unwrap_used)]

use techtrade_tests::market::market;
use techtrade_tests::web::{Browser, csrf_token};
use techtrade_tests::{TestApp, credit_code, demo_records, on_both_databases, unique};

/// Demo listings with patents, published and indexed.
async fn demo_market(app: &TestApp) -> Vec<techtrade_listings::seed::PatentRecord> {
    let records: Vec<_> = demo_records().into_iter().take(300).collect();
    app.seed_demo(&records).await;
    app.sync_search().await;
    records
}

fn lang_of(html: &str) -> &str {
    let at = html.find("<html lang=\"").expect("an <html lang>") + "<html lang=\"".len();
    &html[at..at + html[at..].find('"').unwrap()]
}

on_both_databases! {
    async fn the_front_page_shows_the_newest_listings_and_the_figures(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let mut browser = Browser::new(&app);
        let page = browser.get("/").await;
        page.assert_status(200);
        assert!(page.header("content-type").starts_with("text/html"));
        assert_eq!(lang_of(&page.text), "zh-CN", "Chinese first");
        assert!(page.text.contains(&format!("href=\"/listings/{}\"", m.listing_id)), "{}", page.text);
        assert!(page.text.contains("id=\"figures\""));
        assert!(page.text.contains("role=\"search\""));
        // A first visit gets its anonymous CSRF cookie, HttpOnly and Lax.
        let set = page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>();
        assert!(set.iter().any(|c| c.starts_with("tt_csrf=") && c.contains("HttpOnly") && c.contains("SameSite=Lax")));
        assert!(page.header("vary").contains("HX-Request"));
    }
}

on_both_databases! {
    async fn the_language_comes_from_the_query_then_the_cookie_then_the_browser(app: TestApp) {
        let mut browser = Browser::new(&app);
        let english = browser.get("/?lang=en").await;
        assert_eq!(lang_of(&english.text), "en");
        assert!(english.text.contains(">Search<"), "the button in English");
        assert_eq!(browser.cookie("tt_lang"), Some("en"));
        let next = browser.get("/search").await;
        assert_eq!(lang_of(&next.text), "en", "the cookie keeps it");
        assert_eq!(lang_of(&browser.get("/?lang=zh-CN").await.text), "zh-CN");

        let mut visitor = Browser::new(&app);
        visitor.headers.push(("accept-language".into(), "en-GB,en;q=0.9,zh;q=0.5".into()));
        assert_eq!(lang_of(&visitor.get("/").await.text), "en");
        visitor.headers[0].1 = "fr, de".into();
        assert_eq!(lang_of(&visitor.get("/").await.text), "zh-CN", "nothing we speak: Chinese");
    }
}

on_both_databases! {
    async fn search_marks_the_words_counts_facets_and_removes_filters(app: TestApp) {
        demo_market(&app).await;
        let mut browser = Browser::new(&app);
        let page = browser.get("/search?q=%E7%94%B5%E6%B1%A0").await;
        page.assert_status(200);
        assert!(page.text.contains("<mark>"), "matched words are marked");
        assert!(page.text.contains("id=\"results\""));
        assert!(page.text.contains("data-facet=\"ipc_subclass\""));
        assert!(page.text.contains("data-facet=\"region\""));
        // The first IPC facet narrows the search and shows as a removable filter.
        let at = page.text.find("data-facet=\"ipc_subclass\"").unwrap();
        let value_at = at + page.text[at..].find("data-value=\"").unwrap() + "data-value=\"".len();
        let value = &page.text[value_at..value_at + page.text[value_at..].find('"').unwrap()];
        let narrowed = browser.get(&format!("/search?q=%E7%94%B5%E6%B1%A0&ipc={value}")).await;
        narrowed.assert_status(200);
        assert!(narrowed.text.contains("data-filter=\"ipc\""), "the filter is shown");
        assert!(narrowed.text.contains("href=\"/search?q=%E7%94%B5%E6%B1%A0\""), "and removable");

        // Nothing found: the empty state with something to try.
        let empty = browser.get("/search?q=zzqqxx%E4%B8%8D%E5%AD%98%E5%9C%A8").await;
        assert!(empty.text.contains("id=\"empty\""), "{}", empty.text);

        // An empty filter, as a form sends one, is no filter.
        browser.get("/search?q=&type=&ipc=&sort=").await.assert_status(200);
    }
}

on_both_databases! {
    async fn a_bad_search_parameter_is_told_on_the_page_with_a_4xx(app: TestApp) {
        let mut browser = Browser::new(&app);
        let page = browser.get("/search?q=a&ipc=%E9%94%82").await;
        page.assert_status(400);
        assert!(page.text.contains("role=\"alert\""), "{}", page.text);
        assert!(page.text.contains("IPC"), "the parameter is named");
        let long = "x".repeat(201);
        let page = browser.get(&format!("/search?q={long}")).await;
        page.assert_status(400);
        assert!(page.text.contains("id=\"q-error\""), "the message is on the field");
        assert!(page.text.contains(&long), "what was typed stays");
    }
}

on_both_databases! {
    async fn htmx_gets_a_fragment_and_the_browser_a_page(app: TestApp) {
        demo_market(&app).await;
        let mut browser = Browser::new(&app);
        let page = browser.get("/search?q=%E7%94%B5%E6%B1%A0").await;
        assert!(page.text.starts_with("<!doctype html>"));
        browser.headers.push(("hx-request".into(), "true".into()));
        let fragment = browser.get("/search?q=%E7%94%B5%E6%B1%A0").await;
        fragment.assert_status(200);
        assert!(!fragment.text.contains("<html"), "a fragment, not a page");
        assert!(fragment.text.trim_start().starts_with("<div id=\"search-body\""), "{}", fragment.text);
        assert!(fragment.header("vary").contains("HX-Request"));
        let suggestions = browser.get("/search/suggest?q=%E4%B8%80%E7%A7%8D").await;
        assert!(suggestions.text.contains("<option value=\""), "{}", suggestions.text);
    }
}

on_both_databases! {
    async fn a_listing_page_shows_its_patents_and_hides_drafts(app: TestApp) {
        let records = demo_market(&app).await;
        let mut browser = Browser::new(&app);
        let id = format!("demo-{}", records[0].publication_number);
        let listing = app.get(&format!("/api/v1/listings/{id}"), None).await;
        listing.assert_status(200);
        let number = listing.json["patents"][0]["application_number"].as_str().unwrap();
        let page = browser.get(&format!("/listings/{id}")).await;
        page.assert_status(200);
        assert!(page.text.contains("id=\"patents\""));
        assert!(page.text.contains(number), "the patent's number {number}: {}", page.text);
        assert!(page.text.contains("id=\"ipc\""));
        assert!(page.text.contains("id=\"price\""));

        // A draft is not the public's: 404, as in the API.
        let org = app.register_org("enterprise").await;
        let draft = app.post("/api/v1/listings", Some(&org.token), techtrade_tests::market::listing_body(&["assignment"])).await;
        let draft_id = draft.json["id"].as_str().unwrap();
        browser.get(&format!("/listings/{draft_id}")).await.assert_status(404);
        browser.get("/listings/nope").await.assert_status(404);
        browser.get("/demands/nope").await.assert_status(404);
        // Its owner, signed in on the site, sees it with its status.
        let mut owner = Browser::new(&app);
        owner.submit("/login", "/login", &[("email", &org.email), ("password", &org.password)]).await.assert_status(303);
        let own = owner.get(&format!("/listings/{draft_id}")).await;
        own.assert_status(200);
        assert!(own.text.contains("status-note"));
    }
}

on_both_databases! {
    async fn a_demand_page_shows_its_budget_and_owner(app: TestApp) {
        demo_market(&app).await;
        app.seed_demo_demands().await;
        let page = app.get("/api/v1/demands", None).await;
        let id = page.json["items"][0]["id"].as_str().unwrap().to_string();
        let mut browser = Browser::new(&app);
        let shown = browser.get(&format!("/demands/{id}")).await;
        shown.assert_status(200);
        assert!(shown.text.contains("id=\"budget\"") && shown.text.contains("id=\"owner\""));
        assert!(!shown.text.contains("id=\"matches\""), "matches are for signed-in visitors");

        // Signed in, the ranked listings that may answer it, with their
        // reasons, in the order the matching API gives.
        app.sync_search().await;
        let org = app.register_org("enterprise").await;
        let mut member = signed_in(&app, &org).await;
        let shown = member.get(&format!("/demands/{id}")).await;
        let api = app.get(&format!("/api/v1/demands/{id}/matches?limit=5"), Some(&org.token)).await;
        let first = api.json["items"][0]["listing"]["id"].as_str().unwrap();
        assert!(shown.text.contains("id=\"matches\""), "{}", shown.text);
        let at = shown.text.find("id=\"matches\"").unwrap();
        assert!(shown.text[at..].find(&format!("/listings/{first}")).is_some(), "the best match is listed");
        assert!(shown.text.contains("class=\"reasons\""));
    }
}

on_both_databases! {
    async fn a_form_without_its_csrf_token_is_refused(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut browser = Browser::new(&app);
        browser.get("/login").await.assert_status(200);
        let refused = browser.post_raw("/login", &[("email", &org.email), ("password", &org.password)]).await;
        refused.assert_status(403);
        assert!(browser.cookie("tt_session").is_none());
        let wrong = browser.post_raw("/login", &[("csrf", "0000"), ("email", &org.email), ("password", &org.password)]).await;
        wrong.assert_status(403);
        // Another site's form has no cookie of ours to match.
        let mut stranger = Browser::new(&app);
        stranger.post_raw("/login", &[("csrf", "x"), ("email", &org.email)]).await.assert_status(403);
    }
}

on_both_databases! {
    async fn sign_in_sets_a_session_cookie_and_sign_out_revokes_it(app: TestApp) {
        let org = app.register_org("university").await;
        let mut browser = Browser::new(&app);
        let wrong = browser.submit("/login", "/login", &[("email", &org.email), ("password", "not the password")]).await;
        wrong.assert_status(401);
        assert!(wrong.text.contains("role=\"alert\""));
        assert!(wrong.text.contains(&format!("value=\"{}\"", org.email)), "the e-mail stays");

        let signed = browser
            .submit("/login?next=/search", "/login", &[("email", &org.email), ("password", &org.password), ("next", "/search")])
            .await;
        signed.assert_status(303);
        assert_eq!(signed.header("location"), "/search");
        let cookie = signed.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("tt_session=")).unwrap().to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
        let token = browser.cookie("tt_session").unwrap().to_string();
        let home = browser.get("/").await;
        assert!(home.text.contains("action=\"/logout\""), "signed in: {}", home.text);

        // The session is the API's: the same token works as a bearer token.
        app.get("/api/v1/me", Some(&token)).await.assert_status(200);
        // A sign-in never sends anyone to another site.
        let mut other = Browser::new(&app);
        let away = other.submit("/login", "/login", &[("email", &org.email), ("password", &org.password), ("next", "//evil.example/")]).await;
        assert_eq!(away.header("location"), "/");

        browser.submit("/", "/logout", &[]).await.assert_status(303);
        assert!(browser.cookie("tt_session").is_none());
        app.get("/api/v1/me", Some(&token)).await.assert_problem(401, "invalid_token");
        let after = browser.get("/").await;
        assert!(after.text.contains("href=\"/login\""));
    }
}

on_both_databases! {
    async fn registration_shows_each_fields_error_and_keeps_what_was_typed(app: TestApp) {
        let mut browser = Browser::new(&app);
        let n = unique();
        let email = format!("web{n}@example.cn");
        let good = credit_code();
        let mut bad = good.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        let fields = |code: &str| {
            vec![
                ("organization.name", "网页注册单位".to_string()),
                ("organization.kind", "enterprise".to_string()),
                ("organization.credit_code", code.to_string()),
                ("organization.region_code", "630100".to_string()),
                ("user.name", "张工".to_string()),
                ("user.email", email.clone()),
                ("user.password", "a fine password 1".to_string()),
            ]
        };
        let bad_fields = fields(&bad);
        let borrowed: Vec<(&str, &str)> = bad_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = browser.submit("/register", "/register", &borrowed).await;
        refused.assert_status(422);
        assert!(refused.text.contains("id=\"credit-code-error\""), "{}", refused.text);
        assert!(refused.text.contains("网页注册单位"), "the name stays");
        assert!(refused.text.contains(&bad), "the code as typed stays");
        assert!(!refused.text.contains("a fine password 1"), "the password is never sent back");
        assert!(csrf_token(&refused.text).is_some(), "the form can be sent again");

        let good_fields = fields(&good);
        let borrowed: Vec<(&str, &str)> = good_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let registered = browser.submit("/register", "/register", &borrowed).await;
        registered.assert_status(303);
        assert!(browser.cookie("tt_session").is_some(), "signed in at once");
        let again = browser.submit("/register", "/register", &borrowed).await;
        again.assert_status(409);
        assert!(again.text.contains("role=\"alert\""));
    }
}

on_both_databases! {
    async fn static_files_are_cached_under_their_hash_and_unknown_pages_are_404(app: TestApp) {
        let mut browser = Browser::new(&app);
        let home = browser.get("/").await;
        let at = home.text.find("/static/").unwrap();
        let url = &home.text[at..at + home.text[at..].find('"').unwrap()];
        assert!(url.ends_with("/site.css"));
        let css = browser.get(url).await;
        css.assert_status(200);
        assert!(css.header("cache-control").contains("immutable"));
        assert!(css.header("content-type").starts_with("text/css"));
        browser.get("/static/000000000000/site.css").await.assert_status(404);

        let missing = browser.get("/no/such/page").await;
        missing.assert_status(404);
        assert!(missing.header("content-type").starts_with("text/html"));
        app.get("/api/v1/no-such-route", None).await.assert_problem(404, "not_found");
    }
}

/// The listing form's fields for a patent listing, with this application number.
fn listing_form(number: &str) -> Vec<(&'static str, String)> {
    vec![
        ("kind", "patent".into()),
        ("title", "一种盐湖卤水提锂的铝系吸附剂及其制备方法".into()),
        ("summary", "适用于高镁锂比卤水的吸附提锂，已完成中试。".into()),
        ("description", String::new()),
        ("ipc", "C22B 26/12\nB01J20/08".into()),
        ("maturity", "pilot".into()),
        ("trade_modes", "assignment".into()),
        ("trade_modes", "exclusive_license".into()),
        ("price_yuan", "1,500,000.50".into()),
        ("region_code", "632801".into()),
        ("patents[0].application_number", number.into()),
        ("patents[0].publication_number", String::new()),
        ("patents[0].patent_type", "invention".into()),
        ("patents[0].title", "一种盐湖卤水提锂的铝系吸附剂及其制备方法".into()),
        ("patents[0].filing_date", "2017-07-27".into()),
        ("patents[0].grant_date", "2019-05-10".into()),
        ("patents[0].legal_status", "granted".into()),
        // A row left blank is no patent.
        ("patents[1].application_number", String::new()),
        ("patents[1].title", String::new()),
    ]
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn signed_in<'a>(app: &'a TestApp, org: &techtrade_tests::TestOrg) -> Browser<'a> {
    techtrade_tests::web::signed_in(app, &org.email, &org.password).await
}

on_both_databases! {
    async fn the_workspace_is_for_signed_in_members(app: TestApp) {
        let mut visitor = Browser::new(&app);
        let away = visitor.get("/workspace/listings/new").await;
        away.assert_status(303);
        assert_eq!(away.header("location"), "/login?next=%2Fworkspace%2Flistings%2Fnew");
        // A sign-in with nowhere else to go lands in the workspace.
        let org = app.register_org("university").await;
        let landed = visitor.submit("/login", "/login", &[("email", &org.email), ("password", &org.password)]).await;
        assert_eq!(landed.header("location"), "/workspace");
        visitor.get("/workspace").await.assert_status(200);

        // Staff act for no organisation: the workspace is not theirs.
        let (_, _) = app.staff(techtrade_domain::Role::Official).await;
        let n = unique();
        let email = format!("web-official{n}@kjt.gov.cn");
        let input = techtrade_accounts::NewUser {
            email: email.clone(),
            password: "official password 1".into(),
            name: "审核员".into(),
            role: techtrade_domain::Role::Official,
            organization_id: None,
            must_change_password: false,
        };
        techtrade_accounts::create_user(&app.state.db, &app.hasher, input, None, None).await.unwrap();
        let mut official = Browser::new(&app);
        official.submit("/login", "/login", &[("email", &email), ("password", "official password 1")]).await;
        official.get("/workspace").await.assert_status(403);
    }
}

on_both_databases! {
    async fn a_listing_is_written_in_the_form_fixed_on_its_field_and_submitted(app: TestApp) {
        let org = app.register_org("university").await;
        let mut browser = signed_in(&app, &org).await;
        let wrong = listing_form("201710601862.4");
        let refused = browser.submit("/workspace/listings/new", "/workspace/listings", &borrowed(&wrong)).await;
        refused.assert_status(422);
        assert!(refused.text.contains("id=\"p0-number-error\""), "{}", refused.text);
        assert!(refused.text.contains("value=\"1,500,000.50\""), "the price as typed stays");
        assert!(refused.text.contains("value=\"201710601862.4\""));

        let fixed = listing_form("201710601862.3");
        let created = browser.submit("/workspace/listings/new", "/workspace/listings", &borrowed(&fixed)).await;
        created.assert_status(303);
        let location = created.header("location").to_string();
        let id = location.trim_start_matches("/workspace/listings/").split('/').next().unwrap().to_string();
        assert_eq!(location, format!("/workspace/listings/{id}/edit?done=created"));

        // Stored as the API shows it: the typed yuan are exact fen, the
        // blank row is no patent.
        let stored = app.get(&format!("/api/v1/listings/{id}"), Some(&org.token)).await;
        assert_eq!(stored.json["price_fen"], 150_000_050);
        assert_eq!(stored.json["ipc"], techtrade_tests::serde_json::json!(["C22B26/12", "B01J20/08"]));
        assert_eq!(stored.json["patents"].as_array().unwrap().len(), 1);
        assert_eq!(stored.json["status"], "draft");

        let edit = browser.get(&location).await;
        edit.assert_status(200);
        assert!(edit.text.contains("class=\"notice\""));
        assert!(edit.text.contains(&format!("action=\"/workspace/listings/{id}/submit\"")));

        browser.submit(&location, &format!("/workspace/listings/{id}/submit"), &[]).await.assert_status(303);
        let stored = app.get(&format!("/api/v1/listings/{id}"), Some(&org.token)).await;
        assert_eq!(stored.json["status"], "pending_review");
        let listed = browser.get("/workspace/listings").await;
        assert!(listed.text.contains(&format!("/workspace/listings/{id}/edit")));
    }
}

on_both_databases! {
    async fn another_organisations_items_are_404_in_the_workspace(app: TestApp) {
        let owner = app.register_org("university").await;
        let other = app.register_org("enterprise").await;
        let m = market(&app, &["assignment"]).await;
        let id = &m.listing_id;
        let mut browser = signed_in(&app, &other).await;
        browser.get(&format!("/workspace/listings/{id}/edit")).await.assert_status(404);
        let page = browser.get("/workspace").await;
        let token = csrf_token(&page.text).unwrap();
        let fields = listing_form("201710601862.3");
        let mut posted = vec![("csrf", token.as_str())];
        posted.extend(borrowed(&fields));
        browser.post_raw(&format!("/workspace/listings/{id}"), &posted).await.assert_status(404);
        browser.post_raw(&format!("/workspace/listings/{id}/withdraw"), &[("csrf", &token)]).await.assert_status(404);
        let stored = app.get(&format!("/api/v1/listings/{id}"), None).await;
        assert_eq!(stored.json["status"], "published", "untouched");
        drop(owner);
    }
}

on_both_databases! {
    async fn an_edit_made_meanwhile_by_someone_else_is_not_overwritten(app: TestApp) {
        let org = app.register_org("university").await;
        let mut browser = signed_in(&app, &org).await;
        let fields = listing_form("201710601862.3");
        let created = browser.submit("/workspace/listings/new", "/workspace/listings", &borrowed(&fields)).await;
        let location = created.header("location").to_string();
        let id = location.trim_start_matches("/workspace/listings/").split('/').next().unwrap().to_string();
        let form = browser.get(&location).await;
        let token = csrf_token(&form.text).unwrap();
        // Someone else edits it through the API meanwhile.
        let patch = axum::http::Request::patch(format!("/api/v1/listings/{id}"))
            .header("authorization", format!("Bearer {}", org.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(r#"{"title": "改过的标题"}"#))
            .unwrap();
        app.send(patch).await.assert_status(200);
        let mut posted = vec![("csrf", token.as_str()), ("version", "1")];
        posted.extend(borrowed(&fields));
        let stale = browser.post_raw(&format!("/workspace/listings/{id}"), &posted).await;
        stale.assert_status(412);
        assert!(stale.text.contains("role=\"alert\""));
        let stored = app.get(&format!("/api/v1/listings/{id}"), Some(&org.token)).await;
        assert_eq!(stored.json["title"], "改过的标题");
    }
}

on_both_databases! {
    async fn a_demand_with_an_amount_that_is_not_yuan_is_told_on_its_field(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut browser = signed_in(&app, &org).await;
        let mut fields = vec![
            ("title", "退役动力锂电池回收与材料再生技术".to_string()),
            ("description", "寻求湿法冶金回收镍钴锂的成熟技术。".to_string()),
            ("ipc", "H01M10/54".to_string()),
            ("trade_modes", "joint_development".to_string()),
            ("budget_min_yuan", "五十万".to_string()),
            ("budget_max_yuan", "3000000".to_string()),
            ("region_code", "630100".to_string()),
            ("deadline", String::new()),
        ];
        let refused = browser.submit("/workspace/demands/new", "/workspace/demands", &borrowed(&fields)).await;
        refused.assert_status(422);
        assert!(refused.text.contains("id=\"budget-min-error\""), "{}", refused.text);
        fields[4].1 = "500000".into();
        let created = browser.submit("/workspace/demands/new", "/workspace/demands", &borrowed(&fields)).await;
        created.assert_status(303);
        let id = created.header("location").trim_start_matches("/workspace/demands/").split('/').next().unwrap().to_string();
        let stored = app.get(&format!("/api/v1/demands/{id}"), Some(&org.token)).await;
        assert_eq!((stored.json["budget_min_fen"].as_i64(), stored.json["budget_max_fen"].as_i64()), (Some(50_000_000), Some(300_000_000)));
    }
}

on_both_databases! {
    async fn closed_rounds_are_noticed_and_programs_explained_in_both_languages(app: TestApp) {
        let mut browser = Browser::new(&app);
        let none = browser.get("/notices").await;
        none.assert_status(200);
        assert!(none.text.contains("id=\"no-notices\""));

        let (_, official) = app.staff(techtrade_domain::Role::Official).await;
        let year = chrono::Datelike::year(&techtrade_db::today()) - 1;
        let closed = app
            .post("/api/v1/subsidy/rounds", Some(&official), techtrade_tests::serde_json::json!({"program_id": "nanjing-2021", "year": year}))
            .await;
        closed.assert_status(201);
        let id = closed.json["id"].as_str().unwrap().to_string();

        let list = browser.get("/notices").await;
        assert!(list.text.contains(&format!("href=\"/notices/{id}\"")), "{}", list.text);
        let home = browser.get("/").await;
        assert!(home.text.contains(&format!("href=\"/notices/{id}\"")), "the front page shows the newest notices");
        let notice = browser.get(&format!("/notices/{id}")).await;
        notice.assert_status(200);
        assert!(notice.text.contains("id=\"awards\"") && notice.text.contains("id=\"notice-until\""));
        browser.get("/notices/nope").await.assert_status(404);

        let programs = browser.get("/programs").await;
        programs.assert_status(200);
        assert!(programs.text.contains("id=\"program-qinghai\"") && programs.text.contains("南京市技术交易奖补"));
        let english = browser.get("/programs?lang=en").await;
        let nanjing = app.get("/api/v1/subsidy/programs", None).await;
        let line = nanjing.json["items"].as_array().unwrap().iter().find(|p| p["id"] == "nanjing-2021").unwrap()["summary_en"][0]
            .as_str()
            .unwrap()
            .to_string();
        let escaped = line.replace('&', "&#38;").replace('\'', "&#39;").replace('"', "&#34;").replace('<', "&#60;").replace('>', "&#62;");
        assert!(english.text.contains(&escaped), "the rules in English: {line}");
    }
}

on_both_databases! {
    async fn a_deal_is_negotiated_contracted_and_paid_in_the_workspace(app: TestApp) {
        use techtrade_tests::market::{deal, register};
        let m = market(&app, &["assignment", "nonexclusive_license"]).await;
        let mut buyer = signed_in(&app, &m.buyer).await;
        let mut seller = signed_in(&app, &m.seller).await;

        // The listing's page offers the buyer a way in, not the seller.
        let page = buyer.get(&format!("/listings/{}", m.listing_id)).await;
        assert!(page.text.contains("id=\"make-offer\""), "{}", page.text);
        assert!(!seller.get(&format!("/listings/{}", m.listing_id)).await.text.contains("id=\"make-offer\""));

        let new = format!("/workspace/deals/new?listing={}", m.listing_id);
        let bad = buyer.submit(&new, "/workspace/deals", &[("listing_id", &m.listing_id), ("amount_yuan", "八十万"), ("trade_mode", "assignment")]).await;
        bad.assert_status(422);
        assert!(bad.text.contains("id=\"amount-error\""));
        let opened = buyer
            .submit(&new, "/workspace/deals", &[("listing_id", &m.listing_id), ("amount_yuan", "800000"), ("trade_mode", "assignment"), ("terms", "含一年技术支持")])
            .await;
        opened.assert_status(303);
        let path = opened.header("location").to_string();
        let id = path.trim_start_matches("/workspace/deals/").to_string();

        // Not the buyer's turn: the page says so; the seller counters.
        let waiting = buyer.get(&path).await;
        assert!(waiting.text.contains("id=\"waiting\"") && !waiting.text.contains("id=\"counter-form\""));
        let turn = seller.get(&path).await;
        assert!(turn.text.contains("id=\"counter-form\""));
        seller.submit(&path, &format!("{path}/offer"), &[("amount_yuan", "900000"), ("trade_mode", "assignment"), ("terms", "")]).await.assert_status(303);
        // The seller cannot accept its own offer: told on the page, nothing changes.
        let own = seller.submit(&path, &format!("{path}/accept"), &[]).await;
        own.assert_status(403);
        assert!(own.text.contains("role=\"alert\""));
        buyer.submit(&path, &format!("{path}/accept"), &[]).await.assert_status(303);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "agreed");

        let contract = [("category", "transfer"), ("total_yuan", "900000"), ("non_technical_yuan", "100,000"), ("signed_on", "2026-11-20")];
        seller.submit(&path, &format!("{path}/contract"), &contract).await.assert_status(303);
        let stored = deal(&app, &m.seller.token, &id).await;
        assert_eq!(stored["contract"]["technology_amount_fen"], 80_000_000);
        register(&app, &m, &id, 80_000_000).await.assert_status(200);

        // A transfer sent twice with the form's key is recorded once.
        let form = buyer.get(&path).await;
        assert!(form.text.contains("id=\"registration-number\""));
        let token = csrf_token(&form.text).unwrap();
        let at = form.text.find("name=\"key\" value=\"").unwrap() + "name=\"key\" value=\"".len();
        let key = form.text[at..at + form.text[at..].find('"').unwrap()].to_string();
        let transfer = [("csrf", token.as_str()), ("key", key.as_str()), ("amount_yuan", "900000"), ("paid_on", "2026-11-21"), ("reference", "ICBC-20261121-0001")];
        buyer.post_raw(&format!("{path}/payments"), &transfer).await.assert_status(303);
        buyer.post_raw(&format!("{path}/payments"), &transfer).await.assert_status(303);
        let stored = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(stored["payments"].as_array().unwrap().len(), 1, "one transfer");
        let payment = stored["payments"][0]["id"].as_str().unwrap().to_string();

        // The seller refuses without a reason (told on the field), then confirms.
        let refused = seller.submit(&path, &format!("/workspace/payments/{payment}/reject"), &[("deal_id", &id), ("reason", "")]).await;
        refused.assert_status(422);
        assert!(refused.text.contains("class=\"field-error\""));
        seller.submit(&path, &format!("/workspace/payments/{payment}/confirm"), &[("deal_id", &id)]).await.assert_status(303);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");
        let listed = buyer.get("/workspace/deals").await;
        assert!(listed.text.contains(&format!("href=\"{path}\"")) && listed.text.contains("data-status=\"completed\""));

        // Another organisation sees none of it.
        let stranger = app.register_org("enterprise").await;
        let mut other = signed_in(&app, &stranger).await;
        other.get(&path).await.assert_status(404);
        let token = csrf_token(&other.get("/workspace").await.text).unwrap();
        other.post_raw(&format!("{path}/offer"), &[("csrf", &token), ("amount_yuan", "1"), ("trade_mode", "assignment")]).await.assert_status(404);
    }
}

/// The value of the first `name="…"` attribute of the form at `form_id`.
fn form_value(html: &str, form_id: &str, name: &str) -> String {
    let form = &html[html.find(&format!("id=\"{form_id}\"")).unwrap()..];
    let marker = format!("name=\"{name}\" value=\"");
    let at = form.find(&marker).unwrap() + marker.len();
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

on_both_databases! {
    async fn a_card_payment_starts_with_stripe_and_counts_when_stripe_says_it_arrived(app: TestApp) {
        use techtrade_tests::market::{contracted_deal, deal, intent_succeeded, register};
        use techtrade_tests::stripe::FakeStripe;
        let stripe = FakeStripe::start().await;
        let site = techtrade_server::app::SiteOptions::new("https://market.example.cn/", Some("pk_test_techtrade".into()));
        let app = app.with_stripe(stripe.settings()).with_site(site);
        let m = market(&app, &["assignment"]).await;
        // Paid half by card below, so that the other half is still payable.
        let id = contracted_deal(&app, &m, 2_000_000).await;
        register(&app, &m, &id, 1_600_000).await.assert_status(200);
        let path = format!("/workspace/deals/{id}");
        let mut buyer = signed_in(&app, &m.buyer).await;
        let mut seller = signed_in(&app, &m.seller).await;
        assert!(!seller.get(&path).await.text.contains("id=\"card-payment-form\""), "the buyer pays");

        // An amount that is not yuan is told on the card form's field.
        let page = buyer.get(&path).await;
        let key = form_value(&page.text, "card-payment-form", "key");
        assert_ne!(key, form_value(&page.text, "payment-form", "key"), "a transfer and a card payment are two requests");
        let bad = buyer.submit(&path, &format!("{path}/card"), &[("key", &key), ("amount_yuan", "一万")]).await;
        bad.assert_status(422);
        assert!(bad.text.contains("id=\"card-amount-error\""), "{}", bad.text);
        assert!(stripe.requests().is_empty(), "nothing asked of Stripe");

        // The card page holds what Stripe.js needs and is never cached.
        let card = [("key", key.as_str()), ("amount_yuan", "10,000")];
        let started = buyer.submit(&path, &format!("{path}/card"), &card).await;
        started.assert_status(200);
        assert_eq!(started.header("cache-control"), "no-store");
        let stored = deal(&app, &m.buyer.token, &id).await;
        let payment = &stored["payments"][0];
        assert_eq!((payment["method"].as_str(), payment["status"].as_str()), (Some("stripe"), Some("awaiting_payment")));
        assert_eq!(payment["amount_fen"], 1_000_000);
        let intent = payment["stripe_payment_intent_id"].as_str().unwrap().to_string();
        assert!(started.text.contains("data-publishable-key=\"pk_test_techtrade\""));
        assert!(started.text.contains(&format!("data-client-secret=\"{intent}_secret_test\"")), "{}", started.text);
        assert!(started.text.contains(&format!("data-return-url=\"https://market.example.cn/workspace/deals/{id}?paid=card\"")));
        assert!(started.text.contains("https://js.stripe.com/v3/") && started.text.contains("/card.js"));
        // Pressed again (a reload): the same intent, not a second payment.
        let again = buyer.submit(&path, &format!("{path}/card"), &card).await;
        assert!(again.text.contains(&format!("data-client-secret=\"{intent}_secret_test\"")));
        assert_eq!(stripe.requests().len(), 1);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["payments"].as_array().unwrap().len(), 1);

        // Stripe sends the buyer back before its webhook: the page says the
        // money is on its way, and the payment counts only once Stripe says so.
        let payment_id = payment["id"].as_str().unwrap();
        let back = buyer.get(&format!("{path}?paid=card&payment_intent={intent}&redirect_status=succeeded")).await;
        back.assert_status(200);
        assert!(back.text.contains("id=\"card-returned\" data-status=\"succeeded\""), "{}", back.text);
        assert!(back.text.contains("data-status=\"awaiting_payment\""));
        intent_succeeded(&app, "evt_site_card", payment_id, &intent, 1_000_000).await.assert_status(200);
        let paid = buyer.get(&path).await;
        assert!(paid.text.contains("data-status=\"confirmed\""), "{}", paid.text);
        assert!(!paid.text.contains("id=\"card-returned\""));

        // A server without the publishable key shows no card form and refuses one.
        let plain = app.with_site(techtrade_server::app::SiteOptions::new("https://market.example.cn", None));
        let mut buyer = signed_in(&plain, &m.buyer).await;
        let page = buyer.get(&path).await;
        assert!(!page.text.contains("id=\"card-payment-form\"") && page.text.contains("id=\"payment-form\""));
        let refused = buyer.submit(&path, &format!("{path}/card"), &[("key", "k2"), ("amount_yuan", "1")]).await;
        assert!(refused.status.is_client_error(), "{}", refused.text);
        assert_eq!(stripe.requests().len(), 1);
    }
}

on_both_databases! {
    async fn a_search_is_saved_listed_run_and_deleted(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut browser = signed_in(&app, &org).await;
        let search = "/search?q=%E9%94%82%E7%94%B5%E6%B1%A0&ipc=H01M&trade_mode=assignment";
        let page = browser.get(search).await;
        assert!(page.text.contains("id=\"save-search\""));
        let saved = browser
            .submit(search, "/workspace/saved-searches", &[("query", "q=%E9%94%82%E7%94%B5%E6%B1%A0&ipc=H01M&trade_mode=assignment&page=2")])
            .await;
        saved.assert_status(303);
        let listed = browser.get("/workspace/saved-searches?done=search_saved").await;
        assert!(listed.text.contains("class=\"notice\""));
        assert!(listed.text.contains("锂电池") && listed.text.contains("H01M"), "{}", listed.text);
        // Stored as the API shows it: the search's parameters, no paging.
        let api = app.get("/api/v1/saved-searches", Some(&org.token)).await;
        let stored = &api.json["items"][0];
        assert_eq!(stored["query"]["ipc"], "H01M");
        assert!(stored["query"].get("page").is_none());
        let id = stored["id"].as_str().unwrap().to_string();
        assert!(listed.text.contains("href=\"/search?"), "it can be run again");

        // A bad parameter is refused, on the page, with a 4xx.
        let refused = browser.submit("/workspace/saved-searches", "/workspace/saved-searches", &[("query", "ipc=%E9%94%82")]).await;
        refused.assert_status(422);
        assert!(refused.text.contains("role=\"alert\""));

        // Someone else cannot delete it.
        let other = app.register_org("university").await;
        let mut stranger = signed_in(&app, &other).await;
        let token = csrf_token(&stranger.get("/workspace").await.text).unwrap();
        stranger.post_raw(&format!("/workspace/saved-searches/{id}/delete"), &[("csrf", &token)]).await.assert_status(404);
        browser.submit("/workspace/saved-searches", &format!("/workspace/saved-searches/{id}/delete"), &[]).await.assert_status(303);
        let api = app.get("/api/v1/saved-searches", Some(&org.token)).await;
        assert_eq!(api.json["total"], 0);
    }
}

on_both_databases! {
    async fn a_member_adds_a_colleague_who_can_then_sign_in(app: TestApp) {
        let org = app.register_org("university").await;
        let mut browser = signed_in(&app, &org).await;
        let page = browser.get("/workspace/organization").await;
        page.assert_status(200);
        assert!(page.text.contains(&org.email) && page.text.contains(&org.credit_code));
        let n = unique();
        let email = format!("colleague{n}@example.cn");
        let weak = browser
            .submit("/workspace/organization", "/workspace/organization/members", &[("user.name", "王工"), ("user.email", &email), ("user.password", "password")])
            .await;
        weak.assert_status(422);
        assert!(weak.text.contains("id=\"member-password-error\""), "{}", weak.text);
        assert!(weak.text.contains(&email), "the e-mail stays");
        let added = browser
            .submit("/workspace/organization", "/workspace/organization/members", &[("user.name", "王工"), ("user.email", &email), ("user.password", "a colleague's password 1")])
            .await;
        added.assert_status(303);
        let listed = browser.get("/workspace/organization?done=member_added").await;
        assert!(listed.text.contains(&email) && listed.text.contains("class=\"notice\""));
        let mut colleague = Browser::new(&app);
        colleague.submit("/login", "/login", &[("email", &email), ("password", "a colleague's password 1")]).await.assert_status(303);
        // The administrator chose the password: the colleague sets their own first.
        let first = colleague.get("/workspace/organization").await;
        assert_eq!((first.status.as_u16(), first.header("location")), (303, "/account"));
        let fields = [("current", "a colleague's password 1"), ("new", "My own password 2"), ("new_again", "My own password 2")];
        colleague.submit("/account", "/account/password", &fields).await.assert_status(303);
        assert!(colleague.get("/workspace/organization").await.text.contains(&org.email), "the same organisation");
    }
}

on_both_databases! {
    async fn a_claim_is_previewed_line_by_line_and_refused_until_its_year_ends(app: TestApp) {
        use techtrade_tests::market::{contracted_deal, pay_offline, register};
        let m = market(&app, &["assignment"]).await;
        // The contract's technology amount is 80% of its total (market::sign).
        let id = contracted_deal(&app, &m, 100_000_000).await;
        register(&app, &m, &id, 80_000_000).await.assert_status(200);
        let payment = pay_offline(&app, &m, &id, 100_000_000, None).await;
        let payment_id = payment.json["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), techtrade_tests::serde_json::json!({}))
            .await
            .assert_status(200);
        let year = chrono::Datelike::year(&techtrade_db::today());
        let mut buyer = signed_in(&app, &m.buyer).await;
        let empty = buyer.get("/workspace/claims").await;
        empty.assert_status(200);
        assert!(empty.text.contains("id=\"no-claims\""));

        // The year so far, as a what-if: the deal counts, line by line.
        let preview = buyer.get(&format!("/workspace/claims?program_id=qinghai&year={year}&role=buyer")).await;
        preview.assert_status(200);
        assert!(preview.text.contains("id=\"lines\"") && preview.text.contains("id=\"submit-claim\""), "{}", preview.text);
        // Each line names the rule it applied in the visitor's language, as
        // /programs words it; the engine's own record is kept beneath.
        assert!(preview.text.contains("向买方支付") && preview.text.contains("id=\"calculation-record\""), "{}", preview.text);
        let english = buyer.get(&format!("/workspace/claims?program_id=qinghai&year={year}&role=buyer&lang=en")).await;
        assert!(english.text.contains("pays the buyer") && !english.text.contains("向买方支付"), "{}", english.text);
        let api = app
            .post("/api/v1/subsidy/claims/preview", Some(&m.buyer.token), techtrade_tests::serde_json::json!({"program_id": "qinghai", "year": year, "role": "buyer"}))
            .await;
        let amount = api.json["amount_fen"].as_i64().unwrap();
        assert!(amount > 0);
        // Exact to the fen, with thousands separators: `8,000.00 元`.
        let exact = format!("{}.{:02} 元", techtrade_tests::web::thousands(amount / 100), amount % 100);
        assert!(preview.text.contains(&exact), "the amount the API computes, {exact}: {}", preview.text);

        // As a seller it has no deal: nothing counts, and it says so.
        let nothing = buyer.get(&format!("/workspace/claims?program_id=qinghai&year={year}&role=seller")).await;
        assert!(nothing.text.contains("id=\"not-eligible\""));
        // A bad year is told on its field.
        let bad = buyer.get("/workspace/claims?program_id=qinghai&year=abc&role=buyer").await;
        bad.assert_status(422);
        assert!(bad.text.contains("id=\"year-error\""));

        // Submitting before the year has ended is refused on the year.
        let year_text = year.to_string();
        let early = buyer
            .submit(
                &format!("/workspace/claims?program_id=qinghai&year={year}&role=buyer"),
                "/workspace/claims",
                &[("program_id", "qinghai"), ("year", &year_text), ("role", "buyer")],
            )
            .await;
        early.assert_status(422);
        assert!(early.text.contains("id=\"year-error\""), "{}", early.text);
        let claims = app.get("/api/v1/subsidy/claims", Some(&m.buyer.token)).await;
        assert_eq!(claims.json["total"], 0, "nothing submitted");
    }
}

on_both_databases! {
    async fn fields_are_checked_while_typed_by_the_rules_the_services_apply(app: TestApp) {
        let mut browser = Browser::new(&app);
        browser.headers.push(("hx-request".into(), "true".into()));
        let good = credit_code();
        let mut bad = good.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        let passes = browser.get(&format!("/check/credit-code?organization.credit_code={good}")).await;
        passes.assert_status(200);
        assert!(passes.text.trim().is_empty(), "{}", passes.text);
        let fails = browser.get(&format!("/check/credit-code?organization.credit_code={bad}")).await;
        assert!(!fails.text.trim().is_empty());
        let number = browser.get("/check/application-number?patents%5B0%5D.application_number=201710601862.4").await;
        assert!(!number.text.trim().is_empty(), "a wrong check digit");
        let number = browser.get("/check/application-number?patents%5B0%5D.application_number=201710601862.3").await;
        assert!(number.text.trim().is_empty());
        let ipc = browser.get("/check/ipc?ipc=H01M10%2F54%0AZ99Z").await;
        assert!(!ipc.text.trim().is_empty(), "an IPC subclass the scheme lacks");
        assert!(browser.get("/check/region-code?r=630100").await.text.trim().is_empty());
        assert!(browser.get("/check/credit-code?x=").await.text.trim().is_empty(), "blank is the submit's to report");
        browser.get("/check/password?x=1").await.assert_status(404);

        // The same rule on submit: the registration refuses the code the check refused.
        let mut visitor = Browser::new(&app);
        let fields = [
            ("organization.name", "核对单位"),
            ("organization.kind", "enterprise"),
            ("organization.credit_code", bad.as_str()),
            ("organization.region_code", "630100"),
            ("user.name", "赵工"),
            ("user.email", "check@example.cn"),
            ("user.password", "a fine password 1"),
        ];
        let refused = visitor.submit("/register", "/register", &fields).await;
        refused.assert_status(422);
        assert!(refused.text.contains(fails.text.trim()), "the same message on submit");
    }
}
