//! `/account`: a signed-in user's own account — who they are, where they
//! are signed in (ending a session elsewhere), and a new password, which
//! ends every other session. For members and staff alike; each action is
//! the accounts service's, as the API's `/api/v1/me/…` calls it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use techtrade_accounts::{PasswordChangeRequest, PasswordHasher, SessionView};
use techtrade_web::{ApiError, AppState, ClientIp, CurrentUser, RequestId};

use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::form::Fields;
use crate::workspace::items::Done;
use crate::workspace::signed_in;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    ctx: Ctx,
    user: CurrentUser,
    sessions: Vec<SessionView>,
    done: String,
    errors: FormErrors,
}

impl AccountPage {
    /// Why the password must be changed now (the catalogue's key), if it must.
    fn password_change_notice(&self) -> Option<&'static str> {
        self.user.password_change.map(|change| match change {
            techtrade_web::auth::PasswordChange::SetByAnother => "password-change-set-by-another",
            techtrade_web::auth::PasswordChange::Expired => "password-change-expired",
        })
    }

    /// An instant as Beijing date and time, to the minute.
    fn moment(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&techtrade_db::market_offset()).format("%Y-%m-%d %H:%M").to_string()
    }
}

async fn account_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    done: String,
    failure: Option<ApiError>,
) -> Response {
    let sessions = match techtrade_accounts::sessions(state, &user).await {
        Ok(sessions) => sessions,
        Err(error) => return page::error_page(visitor, &error),
    };
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = AccountPage { ctx: Ctx::new(visitor), user, sessions, done, errors };
    page::render(visitor, status, &page)
}

/// `GET /account`.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Query(done): Query<Done>) -> Response {
    match signed_in(&visitor) {
        Ok(user) => account_page(&state, &visitor, user, done.text(), None).await,
        Err(response) => response,
    }
}

/// `POST /account/password`: the current password, the new one twice (the
/// second only guards against a typo, here in the form).
pub async fn change_password(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let fields = Fields::parse(&body);
    let request = PasswordChangeRequest { current: fields.text("current"), new: fields.text("new") };
    if request.new != fields.text("new_again") {
        let mismatch = ApiError::invalid_field("new_again", "mismatch", "the two new passwords differ");
        return account_page(&state, &visitor, user, String::new(), Some(mismatch)).await;
    }
    match techtrade_accounts::change_password(&state, &hasher, &user, request, &ip, request_id).await {
        Ok(()) => page::redirect("/account?done=password_changed"),
        Err(error) => account_page(&state, &visitor, user, String::new(), Some(error)).await,
    }
}

/// `POST /account/sessions/{id}/end`: signs out a session elsewhere.
pub async fn end_session(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    match techtrade_accounts::end_session(&state, &user, id, request_id).await {
        Ok(()) => page::redirect("/account?done=session_ended"),
        Err(error) => account_page(&state, &visitor, user, String::new(), Some(error)).await,
    }
}
