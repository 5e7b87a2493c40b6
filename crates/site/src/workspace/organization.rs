//! The organisation's page: its profile, its members, and a form to add
//! one (the accounts service checks the e-mail and the password).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use techtrade_accounts::{NewUserRequest, OrganizationView, PasswordHasher, UserView};
use techtrade_web::{ApiError, AppState, CurrentUser, RequestId};

use super::Member;
use super::form::Fields;
use super::items::Done;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "organization.html")]
struct OrganizationPage {
    ctx: Ctx,
    organization: OrganizationView,
    members: Vec<UserView>,
    done: String,
    /// The new member's name and e-mail as typed (never the password).
    name: String,
    email: String,
    errors: FormErrors,
}

async fn organization_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    done: String,
    typed: (String, String),
    failure: Option<ApiError>,
) -> Response {
    let id = user.organization_id.clone().unwrap_or_default();
    let organization = techtrade_accounts::organization(state, id.clone());
    let members = techtrade_accounts::members(state, &user, id);
    let (organization, members) = match tokio::try_join!(organization, members) {
        Ok(found) => found,
        Err(error) => return page::error_page(visitor, &error),
    };
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let (name, email) = typed;
    let page = OrganizationPage { ctx: Ctx::new(visitor), organization, members, done, name, email, errors };
    page::render(visitor, status, &page)
}

/// `GET /workspace/organization`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Member(user): Member,
    Query(done): Query<Done>,
) -> Response {
    organization_page(&state, &visitor, user, done.text(), Default::default(), None).await
}

/// `POST /workspace/organization/members`: adds a member with the
/// password the adder sets (they tell the new member).
pub async fn add_member(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let request = NewUserRequest {
        name: fields.text("user.name"),
        email: fields.text("user.email"),
        password: fields.text("user.password"),
    };
    let id = user.organization_id.clone().unwrap_or_default();
    match techtrade_accounts::add_to_organization(&state, &hasher, &user, request_id, id, request).await {
        Ok(_) => page::redirect("/workspace/organization?done=member_added"),
        Err(error) => {
            let typed = (fields.text("user.name"), fields.text("user.email"));
            organization_page(&state, &visitor, user, String::new(), typed, Some(error)).await
        }
    }
}
