//! `/password-reset`: a forgotten password, by e-mail. Asking shows the
//! same "check your mail" page whether the address has an account or not;
//! the e-mail's link (`?token=`) opens the form for the new password. Both
//! steps are the accounts service's, as the API's `/api/v1/auth/password-reset…`
//! calls it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use techtrade_accounts::{PasswordHasher, PasswordResetConfirmation};
use techtrade_web::{ApiError, AppState, RequestId};

use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::form::Fields;

/// Which step the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The address to send a link to.
    Ask,
    /// Asked: look in the mailbox.
    Sent,
    /// From the e-mail's link: the new password, twice.
    Choose { token: String },
    /// The password is set: sign in.
    Done,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    ctx: Ctx,
    step: Step,
    errors: FormErrors,
}

#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
    sent: Option<String>,
    done: Option<String>,
}

fn render(visitor: &Visitor, step: Step, failure: Option<ApiError>) -> Response {
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    page::render(visitor, status, &ResetPage { ctx: Ctx::new(visitor), step, errors })
}

/// `GET /password-reset`: the step the query names.
pub async fn show(visitor: Visitor, Query(query): Query<ResetQuery>) -> Response {
    let step = match (query.token.filter(|t| !t.trim().is_empty()), query.sent, query.done) {
        (Some(token), ..) => Step::Choose { token },
        (None, Some(_), _) => Step::Sent,
        (None, None, Some(_)) => Step::Done,
        (None, None, None) => Step::Ask,
    };
    render(&visitor, step, None)
}

/// `POST /password-reset`: sends the link (when the address has an account).
pub async fn ask(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let email = Fields::parse(&body).text("email");
    match techtrade_accounts::request_password_reset(&state, &email, request_id).await {
        Ok(()) => page::redirect("/password-reset?sent=1"),
        Err(error) => render(&visitor, Step::Ask, Some(error)),
    }
}

/// `POST /password-reset/confirm`: the new password, twice, with the token.
pub async fn choose(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let token = fields.text("token");
    let request = PasswordResetConfirmation { token: token.clone(), new: fields.text("new") };
    if request.new != fields.text("new_again") {
        let mismatch = ApiError::invalid_field("new_again", "mismatch", "the two new passwords differ");
        return render(&visitor, Step::Choose { token }, Some(mismatch));
    }
    match techtrade_accounts::confirm_password_reset(&state, &hasher, request, request_id).await {
        Ok(()) => page::redirect("/password-reset?done=1"),
        Err(error) if error.code().status() == StatusCode::UNPROCESSABLE_ENTITY => {
            render(&visitor, Step::Choose { token }, Some(error))
        }
        Err(error) => render(&visitor, Step::Ask, Some(error)),
    }
}
