//! Deals in the workspace: making an offer on a listing, the offer thread
//! with counter-offers and acceptance, the contract the seller records,
//! the registration, and the payments: a bank transfer the buyer records
//! and the seller confirms, or a card payment through Stripe where the
//! server takes cards. Every step is the deals or payments service's; a
//! refusal comes back on the deal's page with its message on the field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_deals::ListDealsQuery;
use techtrade_deals::requests::{ContractRequest, CreateDealRequest, OfferRequest};
use techtrade_deals::views::{DealView, PaymentView};
use techtrade_domain::{ContractCategory, DealStatus, TradeMode};
use techtrade_payments::{PaymentRequest, RejectPaymentRequest, Stripe};
use techtrade_web::idempotency::Keyed;
use techtrade_web::{ApiError, AppState, CurrentUser, IdempotencyKey, RequestId};

use super::Member;
use super::form::{Amounts, FieldMap, Fields, put_required, service_request};
use crate::format;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::{SiteOptions, assets};

/// The amounts each form types in yuan and the service takes in fen.
const RENAMED: &[(&str, &str)] = &[
    ("amount_fen", "amount_yuan"),
    ("offer.amount_fen", "amount_yuan"),
    ("offer.trade_mode", "trade_mode"),
    ("offer.terms", "terms"),
    ("total_amount_fen", "total_yuan"),
    ("non_technical_amount_fen", "non_technical_yuan"),
];

fn field_map() -> FieldMap {
    FieldMap { renamed: RENAMED, rows: Vec::new(), row_prefix: "" }
}

/// An offer as the form types it.
fn offer_json(fields: &Fields, amounts: &mut Amounts) -> Map<String, Value> {
    let mut offer = Map::new();
    amounts.put(&mut offer, "amount_fen", "amount_yuan", &fields.text("amount_yuan"));
    if offer.get("amount_fen").is_some_and(Value::is_null) {
        offer.remove("amount_fen");
    }
    put_required(&mut offer, "trade_mode", &fields.text("trade_mode"));
    offer.insert("terms".into(), Value::String(fields.text("terms")));
    offer
}

// ---- the list and a new deal ------------------------------------------------

#[derive(Template)]
#[template(path = "deals.html")]
struct DealsPage {
    ctx: Ctx,
    deals: Vec<DealView>,
    organization_id: String,
}

/// `GET /workspace/deals`: the organisation's deals, newest first.
pub async fn list(State(state): State<AppState>, visitor: Visitor, Member(user): Member) -> Response {
    let query = ListDealsQuery { per_page: Some(100), ..ListDealsQuery::default() };
    let organization_id = user.organization_id.clone().unwrap_or_default();
    match techtrade_deals::deals(&state, user, query).await {
        Ok(deals) => {
            let page = DealsPage { ctx: Ctx::new(&visitor), deals: deals.items, organization_id };
            page::render(&visitor, StatusCode::OK, &page)
        }
        Err(error) => page::error_page(&visitor, &error),
    }
}

#[derive(Template)]
#[template(path = "deal_new.html")]
struct NewDealPage {
    ctx: Ctx,
    listing: techtrade_listings::views::ListingResponse,
    amount_yuan: String,
    trade_mode: String,
    terms: String,
    errors: FormErrors,
}

#[derive(serde::Deserialize)]
pub struct ListingParam {
    #[serde(default)]
    listing: String,
}

async fn offered_listing(
    state: &AppState,
    visitor: &Visitor,
    user: &CurrentUser,
    id: String,
) -> Result<techtrade_listings::views::ListingResponse, Response> {
    techtrade_listings::service::listing(state.clone(), Some(user.clone()), id)
        .await
        .map_err(|error| page::error_page(visitor, &error))
}

/// `GET /workspace/deals/new?listing=…`: the first offer on a listing.
pub async fn new(
    State(state): State<AppState>,
    visitor: Visitor,
    Member(user): Member,
    Query(param): Query<ListingParam>,
) -> Response {
    let listing = match offered_listing(&state, &visitor, &user, param.listing).await {
        Ok(listing) => listing,
        Err(response) => return response,
    };
    let trade_mode = listing.trade_modes.first().cloned().unwrap_or_default();
    let amount_yuan = listing.price_fen.map(format::fen_as_yuan_input).unwrap_or_default();
    let page = NewDealPage {
        ctx: Ctx::new(&visitor),
        listing,
        amount_yuan,
        trade_mode,
        terms: String::new(),
        errors: FormErrors::default(),
    };
    page::render(&visitor, StatusCode::OK, &page)
}

/// `POST /workspace/deals`: opens the deal with the buyer's offer.
pub async fn open(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut amounts = Amounts::default();
    let mut object = Map::new();
    object.insert("listing_id".into(), Value::String(fields.text("listing_id")));
    object.insert("offer".into(), Value::Object(offer_json(&fields, &mut amounts)));
    let result = match service_request::<CreateDealRequest>(object, &amounts) {
        Ok(request) => techtrade_deals::open(&state, user.clone(), request_id, request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(deal) => page::redirect(&format!("/workspace/deals/{}", deal.id)),
        Err(error) if error.code().status().is_server_error() => page::error_page(&visitor, &error),
        Err(error) => {
            let listing = match offered_listing(&state, &visitor, &user, fields.text("listing_id")).await {
                Ok(listing) => listing,
                Err(response) => return response,
            };
            let page = NewDealPage {
                ctx: Ctx::new(&visitor),
                listing,
                amount_yuan: fields.text("amount_yuan"),
                trade_mode: fields.text("trade_mode"),
                terms: fields.text("terms"),
                errors: field_map().errors(visitor.lang, &error),
            };
            page::render(&visitor, error.code().status(), &page)
        }
    }
}

// ---- one deal -----------------------------------------------------------------

/// What a deal's forms hold when the page is shown again after a refusal.
#[derive(Debug, Clone, Default)]
struct Typed {
    amount_yuan: String,
    trade_mode: String,
    terms: String,
    category: String,
    total_yuan: String,
    non_technical_yuan: String,
    signed_on: String,
    related_party: bool,
    paid_on: String,
    reference: String,
}

impl Typed {
    fn from_fields(fields: &Fields) -> Self {
        Self {
            amount_yuan: fields.text("amount_yuan"),
            trade_mode: fields.text("trade_mode"),
            terms: fields.text("terms"),
            category: fields.text("category"),
            total_yuan: fields.text("total_yuan"),
            non_technical_yuan: fields.text("non_technical_yuan"),
            signed_on: fields.text("signed_on"),
            related_party: fields.checked("related_party"),
            paid_on: fields.text("paid_on"),
            reference: fields.text("reference"),
        }
    }

    /// The forms as a fresh page fills them: the contract as recorded (or
    /// the agreed price), today's date for a transfer.
    fn for_deal(deal: &DealView) -> Self {
        let agreed = deal.offers.iter().find(|o| Some(&o.id) == deal.agreed_offer_id.as_ref());
        let latest = deal.offers.last();
        let today = techtrade_db::today().to_string();
        match &deal.contract {
            Some(contract) => Self {
                category: contract.category.as_str().to_string(),
                total_yuan: format::fen_as_yuan_input(contract.total_amount_fen),
                non_technical_yuan: format::fen_as_yuan_input(contract.non_technical_amount_fen),
                signed_on: contract.signed_on.to_string(),
                related_party: contract.related_party,
                amount_yuan: deal.payable_amount_fen.map(format::fen_as_yuan_input).unwrap_or_default(),
                paid_on: today,
                ..Self::default()
            },
            None => Self {
                total_yuan: agreed.map(|o| format::fen_as_yuan_input(o.amount_fen)).unwrap_or_default(),
                non_technical_yuan: "0".into(),
                signed_on: today.clone(),
                amount_yuan: latest.map(|o| format::fen_as_yuan_input(o.amount_fen)).unwrap_or_default(),
                trade_mode: latest.map(|o| o.trade_mode.as_str().to_string()).unwrap_or_default(),
                paid_on: today,
                ..Self::default()
            },
        }
    }
}

#[derive(Template)]
#[template(path = "deal.html")]
struct DealPage {
    ctx: Ctx,
    deal: DealView,
    /// `buyer`, `seller` or `agency`: the visitor's side.
    side: &'static str,
    /// The modes an offer may name: the listing's.
    trade_modes: Vec<String>,
    categories: Vec<&'static str>,
    typed: Typed,
    errors: FormErrors,
    /// Which form the errors belong to (`offer`, `contract`, `payment`,
    /// `reject-<payment id>`).
    failed: String,
    /// A fresh idempotency key for the payment forms: sending one twice
    /// records one transfer or starts one card payment.
    payment_key: String,
    /// The card form's own key: a transfer and a card payment are two
    /// different requests.
    card_key: String,
    cards: Cards,
}

/// Card payments on a deal's page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cards {
    /// Whether the buyer may pay by card (Stripe and its publishable key
    /// configured).
    offered: bool,
    /// How Stripe said the card payment went, when it has just sent the
    /// buyer back (`succeeded`, `processing` or `failed`).
    returned: Option<&'static str>,
}

impl Cards {
    /// Whether the web front takes cards: Stripe is configured, and so is
    /// the publishable key the card form needs.
    fn of(stripe: &Stripe, options: &SiteOptions) -> Self {
        Self { offered: stripe.0.is_some() && options.stripe_publishable_key.is_some(), returned: None }
    }
}

/// Read from the application's extensions, for handlers that only show
/// the deal's page.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Cards {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let stripe = parts.extensions.get::<Stripe>().cloned().unwrap_or_default();
        let options = parts.extensions.get::<SiteOptions>().cloned().unwrap_or_default();
        Ok(Self::of(&stripe, &options))
    }
}

/// What Stripe adds to the deal's address when it sends the buyer back.
#[derive(Debug, Default, serde::Deserialize)]
struct CardReturn {
    paid: Option<String>,
    redirect_status: Option<String>,
}

impl CardReturn {
    fn status(&self) -> Option<&'static str> {
        if self.paid.as_deref() != Some("card") {
            return None;
        }
        Some(match self.redirect_status.as_deref() {
            Some("succeeded") => "succeeded",
            Some("processing") => "processing",
            _ => "failed",
        })
    }
}

impl DealPage {
    fn status(&self) -> &'static str {
        self.deal.status.as_str()
    }

    /// Whether the visitor's side is to answer the latest offer.
    fn my_turn(&self) -> bool {
        self.deal.status == DealStatus::Negotiating && self.deal.awaiting.is_some_and(|p| p.as_str() == self.side)
    }

    fn may_sign(&self) -> bool {
        self.side == "seller" && matches!(self.deal.status, DealStatus::Agreed | DealStatus::Contracted)
    }

    fn may_pay(&self) -> bool {
        self.side == "buyer"
            && matches!(self.deal.status, DealStatus::Contracted | DealStatus::Registered)
            && self.deal.payable_amount_fen.is_some_and(|fen| fen > 0)
    }

    /// The seller answers transfers awaiting confirmation.
    fn may_confirm(&self) -> bool {
        self.side == "seller"
    }

    fn error_of(&self, form: &str, field: &str) -> Option<&String> {
        (self.failed == form).then(|| self.errors.field(field)).flatten()
    }

    fn offer_party(&self, organization_id: &str) -> &'static str {
        if organization_id == self.deal.buyer.id { "buyer" } else { "seller" }
    }
}

async fn deal_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    typed: Option<Typed>,
    failure: Option<(&str, ApiError)>,
    cards: Cards,
) -> Response {
    let deal = match techtrade_deals::deal(state, user.clone(), id).await {
        Ok(deal) => deal,
        Err(error) => return page::error_page(visitor, &error),
    };
    let organization = user.organization_id.as_deref().unwrap_or_default();
    let side = if deal.buyer.id == organization {
        "buyer"
    } else if deal.seller.id == organization {
        "seller"
    } else {
        "agency"
    };
    let listing = techtrade_listings::service::listing(state.clone(), Some(user), deal.listing.id.clone()).await;
    let trade_modes = match listing {
        Ok(listing) => listing.trade_modes,
        Err(_) => TradeMode::ALL.iter().map(|m| m.as_str().to_string()).collect(),
    };
    let failed = failure.as_ref().map(|(form, _)| form.to_string()).unwrap_or_default();
    let shown = page::outcome(visitor, failure.as_ref().map(|(_, error)| error), |error| {
        field_map().errors(visitor.lang, error)
    });
    let (status, errors) = match shown {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let (payment_key, card_key) = match (crate::session::random_hex(), crate::session::random_hex()) {
        (Ok(payment_key), Ok(card_key)) => (payment_key, card_key),
        (Err(error), _) | (_, Err(error)) => return page::error_page(visitor, &error),
    };
    let page = DealPage {
        ctx: Ctx::new(visitor),
        typed: typed.unwrap_or_else(|| Typed::for_deal(&deal)),
        deal,
        side,
        trade_modes,
        categories: ContractCategory::ALL.iter().map(|c| c.as_str()).collect(),
        errors,
        failed,
        payment_key,
        card_key,
        cards,
    };
    page::render(visitor, status, &page)
}

/// `GET /workspace/deals/{id}`.
pub async fn show(
    State(state): State<AppState>,
    cards: Cards,
    visitor: Visitor,
    Member(user): Member,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    // Anything else in the address is not ours to refuse: the page shows.
    let returned = techtrade_web::parse_query::<CardReturn>(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let cards = Cards { returned: returned.status(), ..cards };
    deal_page(&state, &visitor, user, id, None, None, cards).await
}

/// `POST /workspace/deals/{id}/{step}`: a counter-offer, acceptance, the
/// contract, a bank transfer (back to the deal's page), or a card payment
/// started (the card page).
#[allow(clippy::too_many_arguments)]
pub async fn step(
    State(state): State<AppState>,
    Extension(stripe): Extension<Stripe>,
    Extension(options): Extension<SiteOptions>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut amounts = Amounts::default();
    let cards = Cards::of(&stripe, &options);
    let (form, result): (&str, Result<(), ApiError>) = match step.as_str() {
        "offer" => {
            let offer = offer_json(&fields, &mut amounts);
            let result = match service_request::<OfferRequest>(offer, &amounts) {
                Ok(offer) => {
                    techtrade_deals::counter(&state, user.clone(), request_id, id.clone(), offer).await.map(drop)
                }
                Err(error) => Err(error),
            };
            ("offer", result)
        }
        "accept" => ("offer", techtrade_deals::accept(&state, user.clone(), request_id, id.clone()).await.map(drop)),
        "contract" => {
            let mut contract = Map::new();
            put_required(&mut contract, "category", &fields.text("category"));
            amounts.put(&mut contract, "total_amount_fen", "total_yuan", &fields.text("total_yuan"));
            amounts.put(
                &mut contract,
                "non_technical_amount_fen",
                "non_technical_yuan",
                &fields.text("non_technical_yuan"),
            );
            if contract.get("non_technical_amount_fen").is_some_and(Value::is_null) {
                contract.insert("non_technical_amount_fen".into(), Value::from(0));
            }
            put_required(&mut contract, "signed_on", &fields.text("signed_on"));
            contract.insert("related_party".into(), fields.checked("related_party").into());
            let result = match service_request::<ContractRequest>(contract, &amounts) {
                Ok(contract) => {
                    techtrade_deals::record_contract(&state, user.clone(), request_id, id.clone(), contract)
                        .await
                        .map(drop)
                }
                Err(error) => Err(error),
            };
            ("contract", result)
        }
        "payments" => {
            let mut payment = Map::new();
            payment.insert("method".into(), Value::String("offline".into()));
            amounts.put(&mut payment, "amount_fen", "amount_yuan", &fields.text("amount_yuan"));
            put_required(&mut payment, "paid_on", &fields.text("paid_on"));
            payment.insert("reference".into(), Value::String(fields.text("reference")));
            let result = match service_request::<PaymentRequest>(payment, &amounts) {
                Ok(payment) => techtrade_payments::pay(
                    state.clone(),
                    stripe,
                    user.clone(),
                    request_id,
                    form_key(&fields),
                    id.clone(),
                    payment,
                )
                .await
                .map(drop),
                Err(error) => Err(error),
            };
            ("payment", result)
        }
        "card" => {
            let mut payment = Map::new();
            payment.insert("method".into(), Value::String("stripe".into()));
            amounts.put(&mut payment, "amount_fen", "amount_yuan", &fields.text("amount_yuan"));
            let started = match (cards.offered, service_request::<PaymentRequest>(payment, &amounts)) {
                (false, _) => Err(ApiError::new(
                    techtrade_web::ErrorCode::StripeNotConfigured,
                    "this market takes bank transfers only",
                )
                .with_field("method", "unavailable", "card payments are not configured")),
                (true, Err(error)) => Err(error),
                (true, Ok(payment)) => {
                    techtrade_payments::pay(
                        state.clone(),
                        stripe,
                        user.clone(),
                        request_id,
                        form_key(&fields),
                        id.clone(),
                        payment,
                    )
                    .await
                }
            };
            match started.map(|keyed| card_payment(&keyed)) {
                Ok(Some((client_secret, amount_fen))) => {
                    return card_page(&visitor, &options, &id, client_secret, amount_fen);
                }
                Ok(None) => {
                    ("card", Err(ApiError::internal("a started card payment came back without its client secret")))
                }
                Err(error) => ("card", Err(error)),
            }
        }
        _ => return page::error_page(&visitor, &ApiError::not_found("step")),
    };
    match result {
        Ok(()) => page::redirect(&format!("/workspace/deals/{id}")),
        Err(error) => {
            deal_page(&state, &visitor, user, id, Some(Typed::from_fields(&fields)), Some((form, error)), cards).await
        }
    }
}

/// The idempotency key a payment form carries.
fn form_key(fields: &Fields) -> Option<IdempotencyKey> {
    Some(fields.text("key")).filter(|k| !k.is_empty()).map(IdempotencyKey)
}

/// The client secret and amount of a started card payment, fresh or
/// replayed (a second press of the same form gets the same PaymentIntent).
fn card_payment(keyed: &Keyed<PaymentView>) -> Option<(String, i64)> {
    match keyed {
        Keyed::Fresh(_, view) => Some((view.client_secret.clone()?, view.amount_fen)),
        Keyed::Replay(_, body) => {
            let view: Value = serde_json::from_str(body).ok()?;
            Some((view.get("client_secret")?.as_str()?.to_string(), view.get("amount_fen")?.as_i64()?))
        }
    }
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage<'a> {
    ctx: Ctx,
    deal_id: &'a str,
    amount_fen: i64,
    publishable_key: &'a str,
    client_secret: String,
    /// Where Stripe sends the buyer back: the deal's page, absolute.
    return_url: String,
    script_url: &'static str,
}

/// The card form for a started payment. It holds the PaymentIntent's
/// client secret, so no cache keeps it.
fn card_page(
    visitor: &Visitor,
    options: &SiteOptions,
    deal_id: &str,
    client_secret: String,
    amount_fen: i64,
) -> Response {
    let page = CardPage {
        ctx: Ctx::new(visitor),
        deal_id,
        amount_fen,
        publishable_key: options.stripe_publishable_key.as_deref().unwrap_or_default(),
        client_secret,
        return_url: format!("{}/workspace/deals/{deal_id}?paid=card", options.public_url),
        script_url: assets::url("card.js"),
    };
    let mut response = page::render(visitor, StatusCode::OK, &page);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

/// `POST /workspace/payments/{id}/{answer}` (`confirm` or `reject`): the
/// seller's answer to a recorded transfer; back to the deal.
pub async fn answer_payment(
    State(state): State<AppState>,
    cards: Cards,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    Path((id, answer)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let deal_id = fields.text("deal_id");
    let result = match answer.as_str() {
        "confirm" => techtrade_payments::confirm(&state, user.clone(), request_id, id.clone()).await,
        "reject" => {
            let request = RejectPaymentRequest { reason: fields.text("reason") };
            techtrade_payments::reject(&state, user.clone(), request_id, id.clone(), request).await
        }
        _ => return page::error_page(&visitor, &ApiError::not_found("answer")),
    };
    match result {
        Ok(payment) => page::redirect(&format!("/workspace/deals/{}", payment.deal_id)),
        Err(error) if deal_id.is_empty() => page::error_page(&visitor, &error),
        Err(error) => {
            let form = format!("reject-{id}");
            deal_page(&state, &visitor, user, deal_id, Some(Typed::from_fields(&fields)), Some((&form, error)), cards)
                .await
        }
    }
}
