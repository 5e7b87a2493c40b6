//! `/console/users`, for administrators: the staff (officials and
//! administrators) with their state, a form to create one, and a button to
//! disable an account — it can no longer sign in and its sessions end at
//! once. The same account service functions as `/api/v1/admin/users`.

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
    roles: [&'static str; 2],
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
    let page = UsersPage {
        ctx: Ctx::new(visitor),
        staff,
        me: user.user_id,
        done,
        typed,
        errors,
        roles: [Role::Official.as_str(), Role::Admin.as_str()],
    };
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

/// `POST /console/users`: a new official or administrator, who signs in
/// with the password given here.
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
    let role = match typed.role.as_str() {
        "official" => Role::Official,
        "admin" => Role::Admin,
        _ => {
            let error = ApiError::invalid_field("role", "invalid_value", "official or admin");
            return users_page(&state, &visitor, user, String::new(), typed, Some(error)).await;
        }
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
    match techtrade_accounts::disable_user(&state.db, &user, request_id, id).await {
        Ok(_) => page::redirect("/console/users?done=disabled"),
        Err(error) => users_page(&state, &visitor, user, String::new(), Typed::default(), Some(error)).await,
    }
}
