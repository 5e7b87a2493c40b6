//! `/console/users`, for both administrators (三员分立): the staff with
//! their state, a form to create an account of a role the caller manages,
//! and a button to disable one — it can no longer sign in and its sessions
//! end at once. The security administrator also ends a lock-out, resets a
//! lost phone's second factor and changes a staff member's role. The same
//! account service functions as `/api/v1/admin/users…`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use techtrade_accounts::{NewUser, PasswordHasher, UserView};
use techtrade_domain::Role;
use techtrade_web::{ApiError, AppState, CurrentUser, RequestId};

use super::Administrator;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::form::Fields;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// What the create form held, to show again after a refusal.
#[derive(Debug, Default)]
struct Typed {
    name: String,
    email: String,
    role: String,
}

#[derive(Template)]
#[template(path = "console_users.html")]
struct UsersPage {
    ctx: Ctx,
    staff: Vec<UserView>,
    me: String,
    done: String,
    typed: Typed,
    errors: FormErrors,
    /// The caller's role: which rows get which buttons.
    role: Role,
    /// The roles the caller may create.
    roles: Vec<&'static str>,
}

impl UsersPage {
    /// Whether the caller makes and disables accounts of `role`.
    fn manages(&self, role: &str) -> bool {
        Role::from_db(role).is_some_and(|role| self.role.manages(role))
    }

    fn security_admin(&self) -> bool {
        self.role == Role::SecurityAdmin
    }

    /// The staff roles, for the role-change menu.
    fn staff_roles(&self) -> [&'static str; 4] {
        Role::STAFF.map(Role::as_str)
    }
}

async fn users_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    done: String,
    typed: Typed,
    failure: Option<ApiError>,
) -> Response {
    let staff = match techtrade_accounts::staff(&state.db, &user).await {
        Ok(staff) => staff.into_iter().map(UserView::from).collect(),
        Err(error) => return page::error_page(visitor, &error),
    };
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let roles = Role::STAFF.into_iter().filter(|r| user.role.manages(*r)).map(Role::as_str).collect();
    let page =
        UsersPage { ctx: Ctx::new(visitor), staff, me: user.user_id, done, typed, errors, role: user.role, roles };
    page::render(visitor, status, &page)
}

/// `GET /console/users`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Administrator(user): Administrator,
    Query(Done { done }): Query<Done>,
) -> Response {
    users_page(&state, &visitor, user, done, Typed::default(), None).await
}

/// `POST /console/users`: a new staff member of a role the caller manages,
/// who signs in with the password given here (and then chooses their own).
pub async fn create(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Administrator(user): Administrator,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let typed = Typed { name: fields.text("name"), email: fields.text("email"), role: fields.text("role") };
    let Some(role) = Role::from_db(&typed.role).filter(|r| r.is_staff() && user.role.manages(*r)) else {
        let error = ApiError::invalid_field("role", "invalid_value", "choose one of the roles offered");
        return users_page(&state, &visitor, user, String::new(), typed, Some(error)).await;
    };
    let input = NewUser {
        email: typed.email.clone(),
        password: fields.text("password"),
        name: typed.name.clone(),
        role,
        organization_id: None,
        must_change_password: true,
    };
    match techtrade_accounts::create_user(&state.db, &hasher, input, Some(user.user_id.clone()), request_id).await {
        Ok(_) => page::redirect("/console/users?done=created"),
        Err(error) => users_page(&state, &visitor, user, String::new(), typed, Some(error)).await,
    }
}

/// `POST /console/users/{id}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Administrator(user): Administrator,
    Path(id): Path<String>,
) -> Response {
    let outcome = techtrade_accounts::disable_user(&state.db, &user, request_id, id).await.map(|_| "disabled");
    after(&state, &visitor, user, outcome).await
}

/// The staff page after an action: its notice, or the refusal.
async fn after(state: &AppState, visitor: &Visitor, user: CurrentUser, outcome: Result<&str, ApiError>) -> Response {
    match outcome {
        Ok(done) => page::redirect(&format!("/console/users?done={done}")),
        Err(error) => users_page(state, visitor, user, String::new(), Typed::default(), Some(error)).await,
    }
}

/// `POST /console/users/{id}/unlock` (the security administrator).
pub async fn unlock(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Administrator(user): Administrator,
    Path(id): Path<String>,
) -> Response {
    let outcome = techtrade_accounts::unlock(&state.db, &user, request_id, id).await.map(|_| "unlocked");
    after(&state, &visitor, user, outcome).await
}

/// `POST /console/users/{id}/second-factor/reset` (the security
/// administrator): for a lost phone; the person's sessions end.
pub async fn reset_second_factor(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Administrator(user): Administrator,
    Path(id): Path<String>,
) -> Response {
    let outcome =
        techtrade_accounts::reset_second_factor(&state, &user, request_id, id).await.map(|()| "second_factor_reset");
    after(&state, &visitor, user, outcome).await
}

/// `POST /console/users/{id}/role` (the security administrator): another
/// staff role; the person's sessions end.
pub async fn change_role(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Administrator(user): Administrator,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = match Role::from_db(&Fields::parse(&body).text("role")) {
        Some(role) => {
            techtrade_accounts::set_role(&state.db, &user, request_id, id, role).await.map(|_| "role_changed")
        }
        None => Err(ApiError::invalid_field("role", "invalid_value", "choose a staff role")),
    };
    after(&state, &visitor, user, outcome).await
}
