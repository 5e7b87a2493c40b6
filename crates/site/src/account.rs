//! `/account`: a signed-in user's own account — who they are, where they
//! are signed in (ending a session elsewhere), a new password, which ends
//! every other session, and the second factor (enrolment with a QR code,
//! recovery codes shown once). For members and staff alike; each action is
//! the accounts service's, as the API's `/api/v1/me/…` calls it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use techtrade_accounts::{
    CodeRequest, Enrolment, PasswordChangeRequest, PasswordHasher, SecondFactorStatus, SessionView,
};
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
    second_factor: SecondFactorStatus,
    /// Recovery codes just made: shown this once.
    recovery_codes: Vec<String>,
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

    /// The enrolment's QR code to put in the page: the SVG element without
    /// its XML declaration. It is the QR crate's output for our own URL,
    /// with no text of the visitor's in it.
    fn qr(&self, enrolment: &Enrolment) -> String {
        let svg = &enrolment.qr_svg;
        svg.find("<svg").map_or_else(String::new, |start| svg[start..].to_string())
    }

    /// An instant as Beijing date and time, to the minute.
    fn moment(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&techtrade_db::market_offset()).format("%Y-%m-%d %H:%M").to_string()
    }
}

/// What the account page shows besides the account itself.
#[derive(Default)]
struct Shown {
    done: String,
    failure: Option<ApiError>,
    recovery_codes: Vec<String>,
}

async fn account_page(state: &AppState, visitor: &Visitor, user: CurrentUser, shown: Shown) -> Response {
    let loaded = async {
        let sessions = techtrade_accounts::sessions(state, &user).await?;
        let second_factor = techtrade_accounts::second_factor_status(state, &user).await?;
        Ok::<_, ApiError>((sessions, second_factor))
    };
    let (sessions, second_factor) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return page::error_page(visitor, &error),
    };
    let Shown { done, failure, recovery_codes } = shown;
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = AccountPage { ctx: Ctx::new(visitor), user, sessions, second_factor, recovery_codes, done, errors };
    page::render(visitor, status, &page)
}

fn failed(error: ApiError) -> Shown {
    Shown { failure: Some(error), ..Shown::default() }
}

/// `GET /account`.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Query(done): Query<Done>) -> Response {
    match signed_in(&visitor) {
        Ok(user) => account_page(&state, &visitor, user, Shown { done: done.text(), ..Shown::default() }).await,
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
        return account_page(&state, &visitor, user, failed(mismatch)).await;
    }
    match techtrade_accounts::change_password(&state, &hasher, &user, request, &ip, request_id).await {
        Ok(()) => page::redirect("/account?done=password_changed"),
        Err(error) => account_page(&state, &visitor, user, failed(error)).await,
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
        Err(error) => account_page(&state, &visitor, user, failed(error)).await,
    }
}

/// `POST /account/totp`: starts enrolling a second factor; the account
/// page then shows the QR code and asks for a code.
pub async fn start_second_factor(State(state): State<AppState>, visitor: Visitor) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    match techtrade_accounts::enrol_second_factor(&state, &user).await {
        Ok(_) => page::redirect("/account#second-factor"),
        Err(error) => account_page(&state, &visitor, user, failed(error)).await,
    }
}

/// `POST /account/totp/confirm`: the first code from the app; the recovery
/// codes are shown on the page this once.
pub async fn confirm_second_factor(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let request = CodeRequest { code: Fields::parse(&body).text("code") };
    match techtrade_accounts::confirm_second_factor(&state, &user, request, request_id).await {
        Ok(codes) => {
            // Enrolled: nothing is asked of this session any more.
            let user = CurrentUser { second_factor: true, must_enrol_second_factor: false, ..user };
            let shown =
                Shown { done: "second_factor_on".into(), recovery_codes: codes.recovery_codes, ..Shown::default() };
            account_page(&state, &visitor, user, shown).await
        }
        Err(error) => account_page(&state, &visitor, user, failed(error)).await,
    }
}

/// `POST /account/totp/manage`: with a code, new recovery codes
/// (`action=renew`, shown once) or the factor turned off (`action=remove`).
pub async fn manage_second_factor(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let fields = Fields::parse(&body);
    let request = CodeRequest { code: fields.text("code") };
    let shown = match fields.text("action").as_str() {
        "remove" => match techtrade_accounts::remove_second_factor(&state, &user, request, request_id).await {
            Ok(()) => return page::redirect("/account?done=second_factor_off#second-factor"),
            Err(error) => failed(error),
        },
        _ => match techtrade_accounts::renew_recovery_codes(&state, &user, request, request_id).await {
            Ok(codes) => Shown {
                done: "recovery_codes_renewed".into(),
                recovery_codes: codes.recovery_codes,
                ..Shown::default()
            },
            Err(error) => failed(error),
        },
    };
    account_page(&state, &visitor, user, shown).await
}
