//! Which outbox events become which email, for whom: the contract with the
//! services that emit them, as typed payloads.
//!
//! | event | template | recipients |
//! |---|---|---|
//! | `organization.registered` | `welcome` | the registering user |
//! | `account.locked` | `account_locked` | the locked account's owner (after too many failed sign-ins) |
//! | `account.recovery_code_used` | `recovery_code_used` | the account's owner (signed in with a recovery code: the phone may be lost, or someone holds the codes) |
//! | `password.reset_requested` | `password_reset` | the account's owner (its token is added as it is sent: [`crate::worker::with_secrets`]) |
//! | `listing.published`, `demand.published` | `item_approved` | members of the owner |
//! | `listing.rejected`, `demand.rejected` | `item_rejected` | members of the owner |
//! | `deal.opened` | `offer_received` | the party that did not make the offer |
//! | `deal.offered` | `counter_offer` | the party that did not make the offer |
//! | `deal.agreed` | `deal_agreed` | buyer and seller |
//! | `deal.contracted` | `contract_signed` | buyer and seller |
//! | `deal.registered` | `contract_registered` | buyer and seller |
//! | `deal.registration_rejected` | `registration_rejected` | buyer and seller |
//! | `deal.completed` | `deal_completed` | buyer and seller |
//! | `deal.cancelled` | `deal_cancelled` | buyer and seller |
//! | `payment.recorded` | `payment_recorded` | seller (who must confirm) |
//! | `payment.confirmed` / `.failed` / `.refunded` | `payment_confirmed` / `_failed` / `_refunded` | buyer and seller |
//! | `payment.rejected` | `payment_rejected` | buyer (who recorded it), with the seller's reason |
//! | `payment.cancelled` | `payment_withdrawn` | seller (nothing left to confirm) |
//! | `payment.needs_refund` | `payment_needs_refund` | buyer and seller, with why |
//! | `saved_search.matched` | `saved_search_matched` | the search's owner |
//! | `claim.reviewed` | `claim_reviewed` | members of the claimant |
//! | `claim.not_in_round` | `claim_not_in_round` | members of the claimant (left out of the closed round) |
//! | `round.publicized` | `round_publicized` | members of every listed organisation |
//! | `registration.more_requested` / `.disputed` / `.registered` / `.refused` / `.amended` / `.cancelled` / `.change_refused` | `registration_decided` | members of the seller |
//!
//! The officials' queues, from [`queue_notice`] (besides the email above):
//!
//! | event | template | recipients |
//! |---|---|---|
//! | `listing.submitted`, `demand.submitted`, `…unpublished` (edited after publication) | `review_item` | officials |
//! | `deal.contracted` | `review_registration` | officials |
//! | `claim.submitted` (level 1), `claim.reviewed` approved at level 1 (level 2) | `review_claim` | officials |
//! | `registration.submitted` / `.answered` / `.amendment_requested` / `.cancellation_requested`, and `registration.due` (a deadline near) | `registration_queue` | officials |
//!
//! Any other event has no email; the worker moves past it. A payload that
//! lacks a field its email needs is an error naming the event and the field.

use serde::{Deserialize, Serialize};

/// Who an email goes to, before the database says which users that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    User(String),
    /// Every active member of these organisations.
    Organizations(Vec<String>),
    /// Every active official: the reviewers' queue.
    Officials,
}

/// A listing or demand whose title (and review reason) an older event did
/// not carry, to be read from its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// `listing` or `demand`.
    pub kind: &'static str,
    pub id: String,
}

/// What one event asks of the mailer.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub template: &'static str,
    pub audience: Audience,
    /// The event's facts, as the templates see them under `event`.
    pub facts: serde_json::Value,
    /// Organisations whose names the templates show (`organization_names`).
    pub named_organizations: Vec<String>,
    /// A subsidy program whose name the templates show (`event.program_name`).
    pub program_id: Option<String>,
    /// Set when the item's title must come from the database.
    pub item_lookup: Option<ItemRef>,
}

#[derive(Debug, thiserror::Error)]
#[error("{event_type}: {source}")]
pub struct EventError {
    pub event_type: String,
    #[source]
    pub source: serde_json::Error,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct AccountLocked {
    user_id: String,
    /// When the lock ends: UTC, and in the market's time for the reader.
    until: String,
    until_local: String,
    minutes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct RecoveryCodeUsed {
    user_id: String,
    /// Recovery codes left.
    left: i64,
    /// When, in the market's time.
    at_local: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct PasswordResetRequested {
    user_id: String,
    /// The reset's id, from which the e-mail's token is derived when it is
    /// sent; the token itself is never stored.
    reset_id: String,
    expires_local: String,
    minutes: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct OrganizationRegistered {
    organization: OrganizationSnapshot,
    user_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct OrganizationSnapshot {
    id: String,
    name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct ItemChanged {
    id: String,
    owner_organization_id: String,
    status: String,
    /// Added to the payload with the mailer; older events lack it.
    #[serde(default)]
    title: Option<String>,
    /// The moderator's reason, on `rejected`.
    #[serde(default)]
    reason: Option<String>,
    /// The status before; none for an item loaded published (the demo).
    #[serde(default)]
    from: Option<String>,
    /// `listing` or `demand`, from the event type.
    #[serde(default)]
    kind: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Offer {
    id: String,
    sequence: i64,
    organization_id: String,
    amount_fen: i64,
    trade_mode: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Contract {
    category: String,
    total_amount_fen: i64,
    technology_amount_fen: i64,
    signed_on: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct DealChanged {
    deal_id: String,
    listing_id: String,
    listing_title: String,
    buyer_organization_id: String,
    seller_organization_id: String,
    agency_organization_id: Option<String>,
    status: String,
    actor_user_id: Option<String>,
    actor_organization_id: Option<String>,
    #[serde(default)]
    offer: Option<Offer>,
    #[serde(default)]
    contract: Option<Contract>,
    #[serde(default)]
    registration_number: Option<String>,
    #[serde(default)]
    registered_technology_amount_fen: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct PaymentChanged {
    payment_id: String,
    deal_id: String,
    listing_title: String,
    method: String,
    amount_fen: i64,
    status: String,
    buyer_organization_id: String,
    seller_organization_id: String,
    /// Why it was rejected or needs a refund (absent in events of older versions).
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct SavedSearchMatched {
    saved_search_id: String,
    user_id: String,
    item_type: String,
    item_id: String,
    title: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct ClaimReviewed {
    claim_id: String,
    organization_id: String,
    program_id: String,
    year: i64,
    role: String,
    level: i64,
    decision: String,
    amount_fen: Option<i64>,
    reason: Option<String>,
}

/// A step of a registration application (`techtrade_registry::events`).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct RegistrationChanged {
    application_id: String,
    step: String,
    seller_organization_id: String,
    buyer_organization_id: Option<String>,
    buyer_name: String,
    category: String,
    total_amount_fen: i64,
    technology_amount_fen: i64,
    decide_by: Option<String>,
    registration_number: Option<String>,
    message: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    working_days_left: Option<i64>,
}

/// A claim still under review when its year's round closed without it.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct ClaimNotInRound {
    claim_id: String,
    organization_id: String,
    program_id: String,
    year: i64,
    role: String,
    round_id: String,
    /// The review level it was waiting for: 1 or 2.
    awaiting_level: i64,
    /// The official's reason, when one was given.
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct ClaimSubmitted {
    claim_id: String,
    organization_id: String,
    program_id: String,
    year: i64,
    role: String,
    amount_fen: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct RoundPublicized {
    round_id: String,
    program_id: String,
    year: i64,
    organization_ids: Vec<String>,
}

/// A payload field the typed form cannot hold, reported like serde does.
fn missing(field: &str) -> serde_json::Error {
    serde::de::Error::custom(format!("missing field `{field}`"))
}

fn parse<T: serde::de::DeserializeOwned>(payload: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(payload)
}

fn to_facts<T: Serialize>(value: &T) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(value)
}

/// The email an event asks for, if any.
pub fn notice(event_type: &str, payload: &str) -> Result<Option<Notice>, EventError> {
    build(event_type, payload).map_err(|source| EventError { event_type: event_type.to_string(), source })
}

fn build(event_type: &str, payload: &str) -> Result<Option<Notice>, serde_json::Error> {
    let simple = |template, audience, facts| Notice {
        template,
        audience,
        facts,
        named_organizations: Vec::new(),
        program_id: None,
        item_lookup: None,
    };
    let notice = match event_type {
        "organization.registered" => {
            let event: OrganizationRegistered = parse(payload)?;
            simple("welcome", Audience::User(event.user_id.clone()), to_facts(&event)?)
        }
        "account.locked" => {
            let event: AccountLocked = parse(payload)?;
            simple("account_locked", Audience::User(event.user_id.clone()), to_facts(&event)?)
        }
        "account.recovery_code_used" => {
            let event: RecoveryCodeUsed = parse(payload)?;
            simple("recovery_code_used", Audience::User(event.user_id.clone()), to_facts(&event)?)
        }
        "password.reset_requested" => {
            let event: PasswordResetRequested = parse(payload)?;
            simple("password_reset", Audience::User(event.user_id.clone()), to_facts(&event)?)
        }
        "listing.published" | "listing.rejected" | "demand.published" | "demand.rejected" => {
            let (kind, name) = event_type.split_once('.').unwrap_or_default();
            let kind = if kind == "listing" { "listing" } else { "demand" };
            let mut event: ItemChanged = parse(payload)?;
            if name == "published" && event.from.is_none() {
                // Loaded published (`serve --demo`): nobody approved it, so
                // nobody is told so — 9,797 "approved" emails at start-up.
                return Ok(None);
            }
            event.kind = kind.to_string();
            let template = if name == "published" { "item_approved" } else { "item_rejected" };
            let item_lookup = event.title.is_none().then(|| ItemRef { kind, id: event.id.clone() });
            Notice {
                item_lookup,
                ..simple(
                    template,
                    Audience::Organizations(vec![event.owner_organization_id.clone()]),
                    to_facts(&event)?,
                )
            }
        }
        "deal.opened"
        | "deal.offered"
        | "deal.agreed"
        | "deal.contracted"
        | "deal.registered"
        | "deal.registration_rejected"
        | "deal.completed"
        | "deal.cancelled" => {
            let event: DealChanged = parse(payload)?;
            deal_notice(event_type, event)?
        }
        "payment.recorded"
        | "payment.confirmed"
        | "payment.failed"
        | "payment.refunded"
        | "payment.rejected"
        | "payment.cancelled"
        | "payment.needs_refund" => {
            let event: PaymentChanged = parse(payload)?;
            if matches!(event_type, "payment.rejected" | "payment.needs_refund") && event.reason.is_none() {
                // Their emails say why; a payload without it is a broken contract.
                return Err(serde::de::Error::missing_field("reason"));
            }
            let seller = || Audience::Organizations(vec![event.seller_organization_id.clone()]);
            let (template, audience) = match event_type {
                "payment.recorded" => ("payment_recorded", seller()),
                "payment.cancelled" => ("payment_withdrawn", seller()),
                "payment.rejected" => {
                    ("payment_rejected", Audience::Organizations(vec![event.buyer_organization_id.clone()]))
                }
                other => {
                    let template = match other {
                        "payment.confirmed" => "payment_confirmed",
                        "payment.failed" => "payment_failed",
                        "payment.needs_refund" => "payment_needs_refund",
                        _ => "payment_refunded",
                    };
                    let both = vec![event.buyer_organization_id.clone(), event.seller_organization_id.clone()];
                    (template, Audience::Organizations(both))
                }
            };
            let named = vec![event.buyer_organization_id.clone(), event.seller_organization_id.clone()];
            Notice { named_organizations: named, ..simple(template, audience, to_facts(&event)?) }
        }
        "saved_search.matched" => {
            let event: SavedSearchMatched = parse(payload)?;
            simple("saved_search_matched", Audience::User(event.user_id.clone()), to_facts(&event)?)
        }
        "claim.reviewed" => {
            let event: ClaimReviewed = parse(payload)?;
            let audience = Audience::Organizations(vec![event.organization_id.clone()]);
            Notice {
                program_id: Some(event.program_id.clone()),
                ..simple("claim_reviewed", audience, to_facts(&event)?)
            }
        }
        "claim.not_in_round" => {
            let event: ClaimNotInRound = parse(payload)?;
            let audience = Audience::Organizations(vec![event.organization_id.clone()]);
            Notice {
                program_id: Some(event.program_id.clone()),
                ..simple("claim_not_in_round", audience, to_facts(&event)?)
            }
        }
        "registration.more_requested"
        | "registration.disputed"
        | "registration.registered"
        | "registration.refused"
        | "registration.amended"
        | "registration.cancelled"
        | "registration.change_refused" => {
            let event: RegistrationChanged = parse(payload)?;
            let audience = Audience::Organizations(vec![event.seller_organization_id.clone()]);
            simple("registration_decided", audience, to_facts(&event)?)
        }
        "round.publicized" => {
            let event: RoundPublicized = parse(payload)?;
            let audience = Audience::Organizations(event.organization_ids.clone());
            Notice {
                program_id: Some(event.program_id.clone()),
                ..simple("round_publicized", audience, to_facts(&event)?)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(notice))
}

/// The email an event sends the officials who must act on it, if any.
pub fn queue_notice(event_type: &str, payload: &str) -> Result<Option<Notice>, EventError> {
    build_queue(event_type, payload).map_err(|source| EventError { event_type: event_type.to_string(), source })
}

/// Every email an event asks for: its own, then the officials' queue.
pub fn notices(event_type: &str, payload: &str) -> Result<Vec<Notice>, EventError> {
    Ok(notice(event_type, payload)?.into_iter().chain(queue_notice(event_type, payload)?).collect())
}

fn build_queue(event_type: &str, payload: &str) -> Result<Option<Notice>, serde_json::Error> {
    let queue = |template, facts, named_organizations, program_id| Notice {
        template,
        audience: Audience::Officials,
        facts,
        named_organizations,
        program_id,
        item_lookup: None,
    };
    let notice = match event_type {
        "listing.submitted" | "demand.submitted" | "listing.unpublished" | "demand.unpublished" => {
            let kind = if event_type.starts_with("listing") { "listing" } else { "demand" };
            let mut event: ItemChanged = parse(payload)?;
            event.kind = kind.to_string();
            let item_lookup = event.title.is_none().then(|| ItemRef { kind, id: event.id.clone() });
            let named = vec![event.owner_organization_id.clone()];
            Notice { item_lookup, ..queue("review_item", to_facts(&event)?, named, None) }
        }
        "deal.contracted" => {
            let event: DealChanged = parse(payload)?;
            event.contract.as_ref().ok_or_else(|| missing("contract"))?;
            let named = vec![event.buyer_organization_id.clone(), event.seller_organization_id.clone()];
            queue("review_registration", to_facts(&event)?, named, None)
        }
        "registration.submitted"
        | "registration.answered"
        | "registration.amendment_requested"
        | "registration.cancellation_requested"
        | "registration.due" => {
            let event: RegistrationChanged = parse(payload)?;
            let named = vec![event.seller_organization_id.clone()];
            queue("registration_queue", to_facts(&event)?, named, None)
        }
        "claim.submitted" => {
            let event: ClaimSubmitted = parse(payload)?;
            let mut facts = to_facts(&event)?;
            facts["level"] = 1.into();
            queue("review_claim", facts, vec![event.organization_id.clone()], Some(event.program_id.clone()))
        }
        "claim.reviewed" => {
            let event: ClaimReviewed = parse(payload)?;
            if event.level != 1 || event.decision != "approve" {
                return Ok(None);
            }
            let mut facts = to_facts(&event)?;
            facts["level"] = 2.into();
            queue("review_claim", facts, vec![event.organization_id.clone()], Some(event.program_id.clone()))
        }
        _ => return Ok(None),
    };
    Ok(Some(notice))
}

fn deal_notice(event_type: &str, event: DealChanged) -> Result<Notice, serde_json::Error> {
    let both = || vec![event.buyer_organization_id.clone(), event.seller_organization_id.clone()];
    // Offers go to whoever has to answer them.
    let counterparty = |offer: &Offer| {
        if offer.organization_id == event.buyer_organization_id {
            event.seller_organization_id.clone()
        } else {
            event.buyer_organization_id.clone()
        }
    };
    let (template, audience) = match event_type {
        "deal.opened" | "deal.offered" => {
            let offer = event.offer.as_ref().ok_or_else(|| missing("offer"))?;
            let template = if event_type == "deal.opened" { "offer_received" } else { "counter_offer" };
            (template, vec![counterparty(offer)])
        }
        "deal.agreed" => {
            event.offer.as_ref().ok_or_else(|| missing("offer"))?;
            ("deal_agreed", both())
        }
        "deal.contracted" => {
            event.contract.as_ref().ok_or_else(|| missing("contract"))?;
            ("contract_signed", both())
        }
        "deal.registered" => {
            event.registration_number.as_ref().ok_or_else(|| missing("registration_number"))?;
            event.registered_technology_amount_fen.ok_or_else(|| missing("registered_technology_amount_fen"))?;
            ("contract_registered", both())
        }
        "deal.registration_rejected" => ("registration_rejected", both()),
        "deal.completed" => ("deal_completed", both()),
        _ => ("deal_cancelled", both()),
    };
    let mut named = both();
    named.extend(event.offer.as_ref().map(|o| o.organization_id.clone()));
    Ok(Notice {
        template,
        audience: Audience::Organizations(audience),
        facts: to_facts(&event)?,
        named_organizations: named,
        program_id: None,
        item_lookup: None,
    })
}

/// A sample payload for every event with an email, as the emitting services
/// write them: what the snapshot and SMTP tests feed the worker.
pub mod samples {
    use serde_json::{Value, json};

    /// Organisation ids the samples use.
    pub const BUYER: &str = "org-buyer";
    pub const SELLER: &str = "org-seller";

    fn deal(status: &str, extra: Value) -> Value {
        let mut deal = json!({
            "deal_id": "deal-1",
            "listing_id": "listing-1",
            "listing_title": "一种锂电池正极材料及其制备方法",
            "buyer_organization_id": BUYER,
            "seller_organization_id": SELLER,
            "agency_organization_id": null,
            "status": status,
            "actor_user_id": "user-actor",
            "actor_organization_id": BUYER,
        });
        if let (Some(deal), Some(extra)) = (deal.as_object_mut(), extra.as_object()) {
            deal.extend(extra.clone());
        }
        deal
    }

    fn offer(organization: &str, sequence: i64, amount_fen: i64) -> Value {
        json!({"offer": {"id": format!("offer-{sequence}"), "sequence": sequence, "organization_id": organization,
                         "amount_fen": amount_fen, "trade_mode": "exclusive_license"}})
    }

    fn payment(status: &str) -> Value {
        json!({"payment_id": "payment-1", "deal_id": "deal-1", "listing_title": "一种锂电池正极材料及其制备方法",
               "method": "offline", "amount_fen": 1_234_567, "status": status,
               "buyer_organization_id": BUYER, "seller_organization_id": SELLER})
    }

    fn with_reason(mut payload: Value, reason: &str) -> Value {
        payload["reason"] = json!(reason);
        payload
    }

    /// (event type, aggregate type, payload) for every event with an email.
    pub fn all() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            (
                "organization.registered",
                "organization",
                json!({"organization": {"id": SELLER, "name": "青海盐湖新材料研究院", "kind": "institute",
                                        "credit_code": "12630000MB1234567X", "region_code": "630100"},
                       "user_id": "user-seller"}),
            ),
            (
                "account.locked",
                "user",
                json!({"user_id": "user-seller", "until": "2026-12-06T04:30:00Z", "until_local": "2026-12-06 12:30",
                       "minutes": 30}),
            ),
            (
                "account.recovery_code_used",
                "user",
                json!({"user_id": "user-seller", "left": 9, "at_local": "2026-12-06 12:30"}),
            ),
            (
                "password.reset_requested",
                "user",
                json!({"user_id": "user-seller", "reset_id": "reset-1", "expires_at": "2026-12-06T04:30:00Z",
                       "expires_local": "2026-12-06 12:30", "minutes": 30}),
            ),
            (
                "listing.published",
                "listing",
                json!({"id": "listing-1", "owner_organization_id": SELLER, "from": "pending_review",
                       "status": "published", "actor_user_id": "official-1",
                       "title": "一种锂电池正极材料及其制备方法"}),
            ),
            (
                "demand.rejected",
                "demand",
                json!({"id": "demand-1", "owner_organization_id": BUYER, "from": "pending_review",
                       "status": "rejected", "actor_user_id": "official-1", "title": "高原光伏组件除尘技术需求",
                       "reason": "需求描述过于简略，请补充技术指标 <例如功率>"}),
            ),
            ("deal.opened", "deal", deal("negotiating", offer(BUYER, 1, 50_000_000))),
            ("deal.offered", "deal", deal("negotiating", offer(SELLER, 2, 62_500_050))),
            ("deal.agreed", "deal", deal("agreed", offer(SELLER, 2, 62_500_050))),
            (
                "deal.contracted",
                "deal",
                deal(
                    "contracted",
                    json!({"contract": {"category": "license", "total_amount_fen": 62_500_050,
                                        "technology_amount_fen": 60_000_000, "signed_on": "2026-11-20"}}),
                ),
            ),
            (
                "deal.registered",
                "deal",
                deal(
                    "registered",
                    json!({"registration_number": "2026630100000123", "registered_technology_amount_fen": 60_000_000}),
                ),
            ),
            ("deal.registration_rejected", "deal", deal("contracted", json!({"reason": "合同缺少技术秘密条款"}))),
            ("deal.completed", "deal", deal("completed", json!({}))),
            ("deal.cancelled", "deal", deal("cancelled", json!({"reason": null}))),
            ("payment.recorded", "payment", payment("recorded")),
            ("payment.confirmed", "payment", payment("confirmed")),
            ("payment.failed", "payment", payment("failed")),
            ("payment.refunded", "payment", payment("refunded")),
            (
                "payment.rejected",
                "payment",
                with_reason(payment("rejected"), "未收到该笔汇款，请核对流水号 <ICBC-0001>"),
            ),
            ("payment.cancelled", "payment", payment("cancelled")),
            (
                "payment.needs_refund",
                "payment",
                with_reason(payment("needs_refund"), "¥12,345.67 of the contract total ¥12,345.67 is already paid"),
            ),
            (
                "saved_search.matched",
                "saved_search",
                json!({"saved_search_id": "search-1", "user_id": "user-buyer", "item_type": "listing",
                       "item_id": "listing-1", "title": "一种锂电池正极材料及其制备方法"}),
            ),
            (
                "claim.reviewed",
                "claim",
                json!({"claim_id": "claim-1", "organization_id": BUYER, "program_id": "qinghai",
                       "year": 2026, "role": "buyer", "level": 1, "decision": "approve",
                       "amount_fen": 3_000_000, "reason": null}),
            ),
            (
                "listing.submitted",
                "listing",
                json!({"id": "listing-1", "owner_organization_id": SELLER, "from": "draft",
                       "status": "pending_review", "actor_user_id": "user-seller",
                       "title": "一种锂电池正极材料及其制备方法"}),
            ),
            (
                "claim.submitted",
                "claim",
                json!({"claim_id": "claim-1", "organization_id": BUYER, "program_id": "qinghai",
                       "year": 2026, "role": "buyer", "amount_fen": 3_000_000}),
            ),
            (
                "claim.not_in_round",
                "claim",
                json!({"claim_id": "claim-2", "organization_id": BUYER, "program_id": "qinghai", "year": 2026,
                       "role": "buyer", "round_id": "round-1", "from": "first_approved", "awaiting_level": 2,
                       "status": "not_in_round", "reason": "补正材料逾期未提交 <截止 1 月 31 日>"}),
            ),
            (
                "round.publicized",
                "round",
                json!({"round_id": "round-1", "program_id": "qinghai", "year": 2026,
                       "organization_ids": [BUYER, SELLER]}),
            ),
            ("registration.submitted", "registration_application", registration("submitted", json!({}))),
            (
                "registration.more_requested",
                "registration_application",
                registration("more_requested", json!({"message": "请补充技术开发合同的签字页和发票。"})),
            ),
            (
                "registration.disputed",
                "registration_application",
                registration("disputed", json!({"decide_by": "2026-11-13", "message": "第三方主张该技术的权属。"})),
            ),
            (
                "registration.registered",
                "registration_application",
                registration("registered", json!({"registration_number": "2026630101000001", "decide_by": null})),
            ),
            (
                "registration.refused",
                "registration_application",
                registration(
                    "refused",
                    json!({"decide_by": null, "reasons": ["当事人不明确", "价款、报酬或使用费及其支付方式不明确"],
                           "message": "合同未载明买方的统一社会信用代码。"}),
                ),
            ),
            ("registration.due", "registration_application", registration("due", json!({"working_days_left": 2}))),
        ]
    }

    /// A registration application of the seller's at `step`.
    fn registration(step: &str, extra: Value) -> Value {
        let mut event = json!({
            "application_id": "application-1",
            "step": step,
            "seller_organization_id": SELLER,
            "buyer_organization_id": null,
            "buyer_name": "西宁高原光伏科技有限公司",
            "category": "development",
            "total_amount_fen": 300_000_000,
            "technology_amount_fen": 296_000_000,
            "decide_by": "2026-10-23",
            "registration_number": null,
            "message": null,
            "reasons": [],
            "working_days_left": null,
        });
        if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            event.extend(extra.clone());
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(notice: &Notice) -> Vec<String> {
        match &notice.audience {
            Audience::Organizations(ids) => ids.clone(),
            Audience::User(id) => vec![format!("user:{id}")],
            Audience::Officials => vec!["officials".into()],
        }
    }

    #[test]
    fn every_sample_has_an_email_and_every_email_a_sample() {
        let mut templates: Vec<&str> = samples::all()
            .iter()
            .flat_map(|(event, _, payload)| notices(event, &payload.to_string()).unwrap())
            .map(|notice| notice.template)
            .collect();
        // item_approved and item_rejected serve listings and demands alike.
        templates.push("item_rejected");
        templates.push("item_approved");
        templates.sort();
        templates.dedup();
        let mut all = crate::templates::EMAILS.to_vec();
        all.sort();
        assert_eq!(templates, all);
    }

    #[test]
    fn offers_go_to_the_other_party() {
        let samples = samples::all();
        let find = |name: &str| samples.iter().find(|(e, ..)| *e == name).unwrap().2.to_string();
        // The buyer opened with an offer: the seller hears of it.
        let opened = notice("deal.opened", &find("deal.opened")).unwrap().unwrap();
        assert_eq!(orgs(&opened), [samples::SELLER]);
        // The seller countered: the buyer hears of it.
        let offered = notice("deal.offered", &find("deal.offered")).unwrap().unwrap();
        assert_eq!(orgs(&offered), [samples::BUYER]);
        let agreed = notice("deal.agreed", &find("deal.agreed")).unwrap().unwrap();
        assert_eq!(orgs(&agreed), [samples::BUYER, samples::SELLER]);
        let recorded = notice("payment.recorded", &find("payment.recorded")).unwrap().unwrap();
        assert_eq!(orgs(&recorded), [samples::SELLER]);
        let refunded = notice("payment.refunded", &find("payment.refunded")).unwrap().unwrap();
        assert_eq!(orgs(&refunded), [samples::BUYER, samples::SELLER]);
        let round = notice("round.publicized", &find("round.publicized")).unwrap().unwrap();
        assert_eq!(orgs(&round), [samples::BUYER, samples::SELLER]);
        let welcome = notice("organization.registered", &find("organization.registered")).unwrap().unwrap();
        assert_eq!(orgs(&welcome), ["user:user-seller"]);
    }

    #[test]
    fn officials_hear_of_what_awaits_them() {
        let samples = samples::all();
        let queue = |name: &str| {
            let payload = samples.iter().find(|(e, ..)| *e == name).unwrap().2.to_string();
            notices(name, &payload).unwrap().into_iter().map(|n| (n.template, orgs(&n))).collect::<Vec<_>>()
        };
        let officials = || vec!["officials".to_string()];
        assert_eq!(queue("listing.submitted"), [("review_item", officials())]);
        assert_eq!(queue("claim.submitted"), [("review_claim", officials())]);
        let both = vec![samples::BUYER.to_string(), samples::SELLER.to_string()];
        assert_eq!(queue("deal.contracted"), [("contract_signed", both), ("review_registration", officials())]);
        // Approved at level 1: the claimant hears, and level 2 is due.
        let claimant = vec![samples::BUYER.to_string()];
        assert_eq!(queue("claim.reviewed"), [("claim_reviewed", claimant.clone()), ("review_claim", officials())]);
        let rejected = serde_json::json!({"claim_id": "c", "organization_id": "o", "program_id": "p", "year": 2026,
            "role": "buyer", "level": 1, "decision": "reject", "amount_fen": null, "reason": "x"});
        assert_eq!(notices("claim.reviewed", &rejected.to_string()).unwrap().len(), 1);
        assert_eq!(queue_notice("deal.opened", "{}").unwrap(), None);
    }

    #[test]
    fn events_without_an_email_are_skipped() {
        assert!(notice("user.created", "{}").unwrap().is_none());
        assert!(notices("listing.updated", "{}").unwrap().is_empty());
        // Loaded published, approved by nobody (the demo's 9,797 listings).
        let loaded =
            serde_json::json!({"id": "demo-1", "owner_organization_id": "o1", "from": null, "status": "published"});
        assert!(notice("listing.published", &loaded.to_string()).unwrap().is_none());
        assert!(notice("demand.published", &loaded.to_string()).unwrap().is_none());
        assert!(notice("listing.updated", "not even json").unwrap().is_none());
    }

    #[test]
    fn a_payload_missing_a_field_names_it() {
        let err = notice("deal.opened", &serde_json::json!({"deal_id": "d"}).to_string()).unwrap_err();
        assert!(err.to_string().starts_with("deal.opened: missing field"), "{err}");
        let mut payload = samples::all().into_iter().find(|(e, ..)| *e == "deal.registered").unwrap().2;
        payload.as_object_mut().unwrap().remove("registration_number");
        let err = notice("deal.registered", &payload.to_string()).unwrap_err();
        assert!(err.to_string().contains("registration_number"), "{err}");
    }

    #[test]
    fn item_events_without_a_title_ask_for_the_row() {
        let payload = serde_json::json!({"id": "l1", "owner_organization_id": "o1", "from": "pending_review",
                                         "status": "rejected", "actor_user_id": "u"});
        let notice = notice("listing.rejected", &payload.to_string()).unwrap().unwrap();
        assert_eq!(notice.template, "item_rejected");
        assert_eq!(notice.item_lookup, Some(ItemRef { kind: "listing", id: "l1".into() }));
        assert_eq!(notice.facts["kind"], "listing");
    }
}
