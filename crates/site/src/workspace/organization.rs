//! The organisation's page: its profile, its members, and for its
//! administrators a form to add one (the accounts service checks the
//! e-mail and the password) and, on each member, the buttons that make
//! them an administrator or a member again, disable or enable them, or
//! remove them (the accounts service's rules, the last administrator's
//! among them).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use techtrade_accounts::{MemberChange, NewUserRequest, OrganizationView, PasswordHasher, UserView};
use techtrade_domain::OrganizationRole;
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
    /// The visitor administers the organisation.
    admin: bool,
    /// The visitor's own user id.
    me: String,
    done: String,
    /// The new member's name and e-mail as typed (never the password).
    name: String,
    email: String,
    errors: FormErrors,
}

impl OrganizationPage {
    /// What an administrator may do to `member`, as (action, caption key):
    /// the service refuses what would leave the organisation without an
    /// administrator, and the page says why.
    fn actions(&self, member: &UserView) -> Vec<(&'static str, &'static str)> {
        let admin = member.organization_role.as_deref() == Some("admin");
        let mut actions =
            vec![if admin { ("make_member", "member-make-member") } else { ("make_admin", "member-make-admin") }];
        actions.push(if member.disabled_at.is_some() {
            ("enable", "member-enable")
        } else {
            ("disable", "member-disable")
        });
        actions.push(("remove", if member.id == self.me { "member-leave" } else { "member-remove" }));
        actions
    }
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
    let (admin, me) = (user.organization_admin, user.user_id.clone());
    let page = OrganizationPage { ctx: Ctx::new(visitor), organization, members, admin, me, done, name, email, errors };
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

/// `POST /workspace/organization/members/{id}` with `action`: `make_admin`,
/// `make_member`, `disable`, `enable` or `remove` (also a member leaving).
pub async fn manage_member(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    Path(member): Path<String>,
    body: Bytes,
) -> Response {
    let organization = user.organization_id.clone().unwrap_or_default();
    let change = |role, disabled| MemberChange { role, disabled };
    let action = Fields::parse(&body).text("action");
    let result = match action.as_str() {
        "remove" => techtrade_accounts::remove_member(&state, &user, organization, member.clone(), request_id).await,
        action => {
            let wanted = match action {
                "make_admin" => change(Some(OrganizationRole::Admin), None),
                "make_member" => change(Some(OrganizationRole::Member), None),
                "disable" => change(None, Some(true)),
                "enable" => change(None, Some(false)),
                _ => {
                    return page::error_page(
                        &visitor,
                        &ApiError::invalid_field("action", "invalid_value", "no such action"),
                    );
                }
            };
            techtrade_accounts::change_member(&state, &user, organization, member.clone(), wanted, request_id)
                .await
                .map(drop)
        }
    };
    match result {
        // Leaving signs the visitor out: to the front page.
        Ok(()) if member == user.user_id && action == "remove" => page::redirect("/"),
        Ok(()) => page::redirect("/workspace/organization?done=member_changed"),
        Err(error) => organization_page(&state, &visitor, user, String::new(), Default::default(), Some(error)).await,
    }
}
