//! The pages of an organisation's listing or demand, written once: the
//! blank form, creating a draft, editing it at the version it was loaded
//! at, sending it to review and withdrawing it. What differs between a
//! listing and a demand (the form's fields, the template, the service
//! calls) is the [`Editable`] a route is instantiated with.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;
use techtrade_listings::service::Actor;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, RequestId};

use super::form::{FieldMap, Fields, Purpose};
use super::{Member, member};
use crate::page::{self, FormErrors};
use crate::session::Visitor;

/// A form for one kind of item, and the service calls behind it.
pub trait Editable: Sized + Send + 'static {
    /// The item as the service returns it.
    type Stored: Send + 'static;
    /// The item as the service takes it.
    type Request: DeserializeOwned + Send + 'static;
    /// `listings` or `demands`: the workspace path.
    const PATH: &'static str;
    /// `listing` or `demand`: what a 404 names.
    const SUBJECT: &'static str;

    fn blank() -> Self;
    fn from_fields(fields: &Fields) -> Self;
    fn from_stored(stored: &Self::Stored) -> Self;
    /// The request body, and where each of its fields is on the form.
    fn request(&self, purpose: Purpose) -> Result<(Value, FieldMap), ApiError>;
    /// One more row of the form's repeated part (a listing's patents).
    fn add_row(&mut self);
    fn id(stored: &Self::Stored) -> &str;
    fn owner(stored: &Self::Stored) -> &str;
    fn render(
        visitor: &Visitor,
        status: StatusCode,
        form: Self,
        errors: FormErrors,
        stored: Option<Self::Stored>,
        done: String,
    ) -> Response;

    fn load(state: AppState, user: CurrentUser, id: String) -> impl Future<Output = ApiResult<Self::Stored>> + Send;
    fn create(
        actor: Actor,
        state: AppState,
        request: Self::Request,
    ) -> impl Future<Output = ApiResult<Self::Stored>> + Send;
    fn update(
        actor: Actor,
        state: AppState,
        id: String,
        expected: Option<i64>,
        patch: Value,
    ) -> impl Future<Output = ApiResult<Self::Stored>> + Send;
    fn submit(actor: Actor, state: AppState, id: String) -> impl Future<Output = ApiResult<Self::Stored>> + Send;
    fn withdraw(actor: Actor, state: AppState, id: String) -> impl Future<Output = ApiResult<Self::Stored>> + Send;
}

/// The form again with the service's refusal on its fields.
fn refused<F: Editable>(
    visitor: &Visitor,
    form: F,
    stored: Option<F::Stored>,
    map: Option<&FieldMap>,
    error: &ApiError,
) -> Response {
    if error.code().status().is_server_error() {
        return page::error_page(visitor, error);
    }
    let errors = match map {
        Some(map) => map.errors(visitor.lang, error),
        None => FormErrors::from_error(visitor.lang, error),
    };
    F::render(visitor, error.code().status(), form, errors, stored, String::new())
}

/// The organisation's own item, or 404 (another organisation's, or none).
async fn own<F: Editable>(
    state: &AppState,
    visitor: &Visitor,
    id: String,
) -> Result<(CurrentUser, F::Stored), Response> {
    let user = member(visitor)?;
    let stored = F::load(state.clone(), user.clone(), id).await.map_err(|error| page::error_page(visitor, &error))?;
    if !user.is_member_of(F::owner(&stored)) {
        return Err(page::error_page(visitor, &ApiError::not_found(F::SUBJECT)));
    }
    Ok((user, stored))
}

/// `GET /workspace/{items}/new`.
pub async fn new_item<F: Editable>(visitor: Visitor, Member(_): Member) -> Response {
    F::render(&visitor, StatusCode::OK, F::blank(), FormErrors::default(), None, String::new())
}

/// `POST /workspace/{items}`: a new draft, then its page.
pub async fn create_item<F: Editable>(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut form = F::from_fields(&fields);
    if fields.checked("add_row") {
        form.add_row();
        return F::render(&visitor, StatusCode::OK, form, FormErrors::default(), None, String::new());
    }
    let (json, map) = match form.request(Purpose::Create) {
        Ok(request) => request,
        Err(error) => return refused(&visitor, form, None, None, &error),
    };
    let request = match techtrade_web::extract::parse_json::<F::Request>(json.to_string().as_bytes()) {
        Ok(request) => request,
        Err(error) => return refused(&visitor, form, None, Some(&map), &error),
    };
    match F::create(Actor { user, request_id }, state, request).await {
        Ok(stored) => page::redirect(&format!("/workspace/{}/{}/edit?done=created", F::PATH, F::id(&stored))),
        Err(error) => refused(&visitor, form, None, Some(&map), &error),
    }
}

/// What just happened, as a redirect after a post names it (`?done=saved`).
#[derive(serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

impl Done {
    /// The name, kept to what a catalogue key can hold.
    pub fn text(&self) -> String {
        self.done.chars().filter(|c| c.is_ascii_lowercase() || *c == '_').take(30).collect()
    }
}

/// `GET /workspace/{items}/{id}/edit`: the item's form with its status,
/// the reviewer's reason, and what just happened to it.
pub async fn edit_item<F: Editable>(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let (_, stored) = match own::<F>(&state, &visitor, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let done = done.text();
    F::render(&visitor, StatusCode::OK, F::from_stored(&stored), FormErrors::default(), Some(stored), done)
}

/// `POST /workspace/{items}/{id}`: the whole form as a change of the
/// version it was loaded at (someone else's change in between is 412).
pub async fn update_item<F: Editable>(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (user, stored) = match own::<F>(&state, &visitor, id.clone()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let fields = Fields::parse(&body);
    let mut form = F::from_fields(&fields);
    if fields.checked("add_row") {
        form.add_row();
        return F::render(&visitor, StatusCode::OK, form, FormErrors::default(), Some(stored), String::new());
    }
    let expected = fields.text("version").parse::<i64>().ok();
    let (json, map) = match form.request(Purpose::Change) {
        Ok(request) => request,
        Err(error) => return refused(&visitor, form, Some(stored), None, &error),
    };
    match F::update(Actor { user, request_id }, state, id.clone(), expected, json).await {
        Ok(_) => page::redirect(&format!("/workspace/{}/{id}/edit?done=saved", F::PATH)),
        Err(error) => refused(&visitor, form, Some(stored), Some(&map), &error),
    }
}

/// `POST /workspace/{items}/{id}/submit` and `/withdraw`.
pub async fn item_action<F: Editable>(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let (user, stored) = match own::<F>(&state, &visitor, id.clone()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let actor = Actor { user, request_id };
    let (result, done) = match action.as_str() {
        "submit" => (F::submit(actor, state, id.clone()).await, "submitted"),
        "withdraw" => (F::withdraw(actor, state, id.clone()).await, "withdrawn"),
        _ => return page::error_page(&visitor, &ApiError::not_found("action")),
    };
    match result {
        Ok(_) => page::redirect(&format!("/workspace/{}/{id}/edit?done={done}", F::PATH)),
        Err(error) => refused(&visitor, F::from_stored(&stored), Some(stored), None, &error),
    }
}
