//! Every email rendered in both languages from the sample events, as
//! snapshots (`tests/snapshots/`): a change to a template shows up as a
//! diff to review. Update with `INSTA_UPDATE=always cargo test -p
//! techtrade-notify --test render` (or `cargo insta review`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use techtrade_notify::events::{self, samples};
use techtrade_notify::recipients::Recipient;
use techtrade_notify::templates::EMAILS;
use techtrade_notify::{Locale, Templates, worker};

fn names() -> BTreeMap<String, String> {
    BTreeMap::from([
        (samples::BUYER.to_string(), "西宁高原光伏科技有限公司".to_string()),
        (samples::SELLER.to_string(), "青海盐湖新材料研究院".to_string()),
    ])
}

fn recipient(locale: Locale) -> Recipient {
    let (name, email) = match locale {
        Locale::ZhCn => ("张三", "zhangsan@example.cn"),
        Locale::En => ("Jane Doe", "jane@example.com"),
    };
    Recipient {
        user_id: "user-1".into(),
        email: email.into(),
        name: name.into(),
        locale,
        organization_id: Some(samples::BUYER.into()),
    }
}

/// (template, rendered snapshot text) for every sample event and locale. A
/// template that serves several sample events (a claim awaiting level 1 or
/// level 2) is named `template@event` after its first.
fn rendered() -> Vec<(String, Locale, String)> {
    // The key a password reset's token is derived with, as the server installs its own.
    techtrade_db::testing::install_test_key();
    let templates = Templates::new().unwrap();
    let mut out: Vec<(String, Locale, String)> = Vec::new();
    for (event_type, _, payload) in samples::all() {
        for notice in events::notices(event_type, &payload.to_string()).unwrap() {
            let name = if out.iter().any(|(t, ..)| t == notice.template) {
                format!("{}@{event_type}", notice.template)
            } else {
                notice.template.to_string()
            };
            let mut facts = notice.facts.clone();
            if notice.program_id.is_some() {
                facts["program_name"] = "青海省技术交易后补助".into();
            }
            for locale in Locale::ALL {
                let mut context = worker::context(&facts, &recipient(locale), &names(), "https://market.example.cn");
                worker::with_secrets(notice.template, &mut context).unwrap();
                let email = templates.render(notice.template, locale, &context).unwrap_or_else(|e| {
                    panic!("{} in {}: {e:#}", notice.template, locale.as_str());
                });
                let text = format!(
                    "subject: {}\n\n----- text -----\n{}\n----- html -----\n{}",
                    email.subject, email.text, email.html
                );
                out.push((name.clone(), locale, text));
            }
        }
    }
    out
}

#[test]
fn every_email_in_both_languages() {
    let rendered = rendered();
    for (template, locale, text) in &rendered {
        insta::assert_snapshot!(format!("{template}.{}", locale.as_str()), text);
    }
    for email in EMAILS {
        for locale in Locale::ALL {
            assert!(
                rendered.iter().any(|(t, l, _)| t == email && *l == locale),
                "{email} in {} has no snapshot",
                locale.as_str()
            );
        }
    }
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let rendered = rendered();
    let (_, _, rejected) = rendered.iter().find(|(t, l, _)| t == "item_rejected" && *l == Locale::ZhCn).unwrap();
    let (text, html) = rejected.split_once("----- html -----").unwrap();
    // The reviewer's reason holds "<例如功率>".
    assert!(text.contains("<例如功率>"), "{text}");
    assert!(html.contains("&lt;例如功率&gt;") && !html.contains("<例如功率>"), "{html}");
}

#[test]
fn english_readers_get_english() {
    for (template, locale, text) in rendered() {
        let subject = text.lines().next().unwrap();
        let chinese = subject.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        // English subjects may quote a Chinese title or name, never Chinese words of ours.
        let ours_in_chinese = ["已", "的", "请", "您"].iter().any(|w| subject.contains(w));
        match locale {
            Locale::ZhCn => assert!(chinese, "{template}: {subject}"),
            Locale::En => assert!(!ours_in_chinese, "{template}: {subject}"),
        }
    }
}

#[test]
fn money_is_shown_in_yuan() {
    let rendered = rendered();
    let (_, _, offer) = rendered.iter().find(|(t, l, _)| t == "offer_received" && *l == Locale::En).unwrap();
    assert!(offer.contains("¥500,000.00"), "{offer}");
    let (_, _, counter) = rendered.iter().find(|(t, l, _)| t == "counter_offer" && *l == Locale::ZhCn).unwrap();
    assert!(counter.contains("¥625,000.50"), "{counter}");
}
