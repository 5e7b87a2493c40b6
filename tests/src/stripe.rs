//! A local HTTP server standing in for `api.stripe.com`, and Stripe events
//! in Stripe's real format (from Stripe's fixtures in `tests/data/stripe`), signed
//! as Stripe signs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_techtrade";
pub const WEBHOOK_SECRET: &str = "whsec_techtrade_test";

/// One PaymentIntent creation as the stand-in received it.
#[derive(Debug, Clone)]
pub struct IntentRequest {
    pub form: HashMap<String, String>,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<IntentRequest>,
    /// Stripe's own idempotency: the same key returns the same intent.
    by_key: HashMap<String, Value>,
    /// Every intent created, by id, as Stripe would now show it.
    intents: HashMap<String, Value>,
    /// Every refund made: (payment intent, amount), in order; and by key.
    refunds: Vec<(String, i64)>,
    refunds_by_key: HashMap<String, Value>,
}

/// The stand-in: `POST /v1/payment_intents` answers like Stripe.
#[derive(Clone)]
pub struct FakeStripe {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

fn shared_data(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/stripe").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Stripe's canonical PaymentIntent object from its API fixtures.
fn fixture_intent() -> Value {
    shared_data("stripe_fixtures3.json")["resources"]["payment_intent"].clone()
}

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/refunds", post(create_refund))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, inner }
    }

    /// Settings pointing the application's Stripe client here.
    pub fn settings(&self) -> techtrade_payments::StripeSettings {
        techtrade_payments::StripeSettings {
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            api_base: Some(self.base_url.clone()),
            timeout: std::time::Duration::from_secs(5),
            tolerance_seconds: 300,
        }
    }

    pub fn requests(&self) -> Vec<IntentRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The buyer paid intent `id` in the browser: Stripe will no longer cancel it.
    pub fn pay(&self, id: &str) {
        if let Some(intent) = self.inner.lock().unwrap().intents.get_mut(id) {
            intent["status"] = json!("succeeded");
        }
    }

    /// Every refund Stripe made: (payment intent, amount).
    pub fn refunds(&self) -> Vec<(String, i64)> {
        self.inner.lock().unwrap().refunds.clone()
    }

    /// Intent `id`'s status as Stripe has it (`canceled` once cancelled).
    pub fn status(&self, id: &str) -> Option<String> {
        self.inner.lock().unwrap().intents.get(id).and_then(|i| i["status"].as_str()).map(String::from)
    }
}

/// `POST /v1/refunds`: Stripe's refund object (from the fixtures) for the
/// intent and amount asked; the same idempotency key gives the same refund.
async fn create_refund(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(String::from);
    let mut inner = inner.lock().unwrap();
    if let Some(existing) = key.as_ref().and_then(|k| inner.refunds_by_key.get(k)) {
        return (StatusCode::OK, axum::Json(existing.clone()));
    }
    let intent = form.get("payment_intent").cloned().unwrap_or_default();
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or_default();
    inner.refunds.push((intent.clone(), amount));
    let mut refund = shared_data("stripe_fixtures3.json")["resources"]["refund"].clone();
    refund["id"] = json!(format!("re_test_{:04}", inner.refunds.len()));
    refund["amount"] = json!(amount);
    refund["currency"] = json!("cny");
    refund["payment_intent"] = json!(intent);
    if let Some(key) = key {
        inner.refunds_by_key.insert(key, refund.clone());
    }
    (StatusCode::OK, axum::Json(refund))
}

/// `POST /v1/payment_intents/{id}/cancel`: refused once the intent is paid,
/// as Stripe refuses it.
async fn cancel_intent(
    State(inner): State<Arc<Mutex<Inner>>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> impl IntoResponse {
    let mut inner = inner.lock().unwrap();
    let Some(intent) = inner.intents.get_mut(&id) else {
        let error = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                                     "message": format!("No such payment_intent: '{id}'")}});
        return (StatusCode::NOT_FOUND, axum::Json(error));
    };
    if intent["status"] == "succeeded" {
        let error = json!({"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                     "message": "You cannot cancel this PaymentIntent because it has a status of succeeded."}});
        return (StatusCode::BAD_REQUEST, axum::Json(error));
    }
    intent["status"] = json!("canceled");
    intent["cancellation_reason"] = json!("requested_by_customer");
    (StatusCode::OK, axum::Json(intent.clone()))
}

async fn create_intent(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let request = IntentRequest {
        form: form.clone(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
    };
    let mut inner = inner.lock().unwrap();
    inner.requests.push(request.clone());
    if let Some(existing) = request.idempotency_key.as_ref().and_then(|k| inner.by_key.get(k)) {
        return (StatusCode::OK, axum::Json(existing.clone()));
    }
    let n = inner.requests.len();
    let id = format!("pi_test_{n:04}");
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), json!(v))))
        .collect();
    let mut intent = fixture_intent();
    intent["id"] = json!(id);
    intent["client_secret"] = json!(format!("{id}_secret_test"));
    intent["amount"] = json!(form["amount"].parse::<i64>().unwrap());
    intent["currency"] = json!(form["currency"]);
    intent["metadata"] = Value::Object(metadata);
    intent["status"] = json!("requires_payment_method");
    if let Some(key) = request.idempotency_key {
        inner.by_key.insert(key, intent.clone());
    }
    inner.intents.insert(id.clone(), intent.clone());
    (StatusCode::OK, axum::Json(intent))
}

/// A webhook event of `event_type` in Stripe's format, its object's
/// fields overridden by `object` (the fixtures are canonical, not
/// consistent with any one payment).
pub fn event(event_type: &str, event_id: &str, object: Value) -> String {
    let events = shared_data("stripe_webhook_events_from_fixtures3.json");
    let mut event = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type} event in the fixtures"))
        .clone();
    event["id"] = json!(event_id);
    event["created"] = json!(chrono::Utc::now().timestamp());
    for (key, value) in object.as_object().unwrap() {
        event["data"]["object"][key] = value.clone();
    }
    event.to_string()
}

/// The `Stripe-Signature` header for `body`, signed now (or at `timestamp`).
pub fn signature(body: &str, timestamp: Option<i64>) -> String {
    let timestamp = timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
    techtrade_payments::signature::sign(body.as_bytes(), WEBHOOK_SECRET, timestamp)
}
