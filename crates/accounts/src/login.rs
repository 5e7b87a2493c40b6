//! Signing in: the password under the login limits, then — when the user
//! has a second factor — a challenge answered with a code, and only then a
//! session. The session token is returned once and only its hash is kept.
//!
//! A wrong code counts as a failed sign-in of the account, as a wrong
//! password does: five of either within the window lock it
//! ([`crate::rate_limit`]), so a stolen password leaves five guesses at a
//! six-digit code per lock-out.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Deserialize;
use techtrade_db::accounts::{self, Session, User};
use techtrade_db::{AnyConnection, audit, outbox, second_factor};
use techtrade_domain::{Email, ids};
use techtrade_web::error::Problem;
use techtrade_web::{ApiError, ApiResult, AppState, AuthSettings, ClientIp, ErrorCode, Json, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::password::PasswordHasher;
use crate::second_factor::{UsedFactor, check_code};
use crate::views::LoginResponse;
use crate::{rate_limit, users};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(login_with_code))
}

/// How long a challenge waits for its code.
const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorLoginRequest {
    /// The `challenge` of the `second_factor_required` answer.
    pub challenge: String,
    /// The six digits the authenticator app shows, or an unused recovery code.
    #[schema(example = "287082")]
    pub code: String,
}

/// Who is asking, as a session records it.
pub struct Client<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<String>,
}

impl<'a> Client<'a> {
    /// The client of a request: its address, its `User-Agent`, its id.
    pub fn of(ip: &'a str, headers: &'a HeaderMap, request_id: Option<String>) -> Self {
        Self { ip, user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()), request_id }
    }
}

/// The same, owned, to go into a database closure.
#[derive(Clone)]
struct Origin {
    ip: String,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl From<Client<'_>> for Origin {
    fn from(client: Client<'_>) -> Self {
        Self {
            ip: client.ip.to_string(),
            user_agent: client.user_agent.map(|s| s.chars().take(256).collect()),
            request_id: client.request_id,
        }
    }
}

/// What a right password gives.
#[derive(Debug)]
pub enum SignIn {
    /// A session: no second factor is enrolled.
    Session(Box<LoginResponse>),
    /// A challenge to answer with a code ([`sign_in_with_code`]).
    SecondFactor { challenge: String, expires_at: DateTime<Utc> },
}

impl SignIn {
    /// The API's answer: the session, or 401 `second_factor_required`
    /// carrying the challenge.
    pub fn into_session(self) -> ApiResult<LoginResponse> {
        match self {
            Self::Session(session) => Ok(*session),
            Self::SecondFactor { challenge, .. } => Err(ApiError::new(
                ErrorCode::SecondFactorRequired,
                "the password is right; send the code of your authenticator app with this challenge to \
                 POST /api/v1/auth/login/totp within 5 minutes",
            )
            .with_challenge(challenge)),
        }
    }
}

/// Signs in; the token goes in `Authorization: Bearer <token>`. With a
/// second factor enrolled, the answer is 401 `second_factor_required` with
/// a `challenge` for `POST /api/v1/auth/login/totp`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "wrong e-mail or password; or `second_factor_required` with a `challenge`", body = Problem),
        (status = 423, description = "the account is locked after too many failed sign-ins", body = Problem),
        (status = 429, description = "too many failed logins from this address", body = Problem),
    )
)]
async fn login(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let client = Client::of(&ip, &headers, request_id);
    Ok(Json(sign_in(&state, &hasher, request, client).await?.into_session()?))
}

/// Answers a sign-in challenge with a code (TOTP or recovery code) and
/// gives the session. A wrong code counts as a failed sign-in.
#[utoipa::path(
    post, path = "/api/v1/auth/login/totp", tag = "accounts",
    request_body = SecondFactorLoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "`wrong_code`, or `invalid_challenge` (unknown, used or expired: sign in again)", body = Problem),
        (status = 423, description = "the account is locked after too many failed sign-ins", body = Problem),
        (status = 429, description = "too many failed logins from this address", body = Problem),
    )
)]
async fn login_with_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    Json(request): Json<SecondFactorLoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let client = Client::of(&ip, &headers, request_id);
    Ok(Json(sign_in_with_code(&state, request, client).await?))
}

/// Checks the password under the login limits: a session, or a challenge
/// when the user has a second factor.
pub async fn sign_in(
    state: &AppState,
    hasher: &PasswordHasher,
    request: LoginRequest,
    client: Client<'_>,
) -> ApiResult<SignIn> {
    let origin = Origin::from(client);
    // A malformed address cannot belong to an account; it still counts as a
    // failure so that the limiter sees it.
    let email =
        Email::parse(&request.email).map(|e| e.to_string()).unwrap_or_else(|_| request.email.trim().to_lowercase());
    let (attempt_id, user) = reserve_attempt(state, &email, &origin).await?;
    let stored = user.as_ref().filter(|u| u.disabled_at.is_none()).map(|u| u.password_hash.clone());
    let password = request.password;
    let hasher = hasher.clone();
    let verified = tokio::task::spawn_blocking(move || hasher.verify(&password, stored.as_deref()))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if verified => user,
        // The reserved attempt stays a failure.
        found => {
            let failure = Failure { email, user_id: found.map(|u| u.id), reason: "wrong_password" };
            failed_sign_in(state, failure, origin.ip, attempt_id, origin.request_id).await?;
            return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong e-mail or password"));
        }
    };
    let settings = state.settings.auth.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                rate_limit::succeeded(conn, &settings, attempt_id, now)?;
                if second_factor::is_enrolled(conn, &user.id)? {
                    return challenge(conn, &user, &origin, now);
                }
                open_session(conn, &settings, user, &origin, "password", now).map(|s| SignIn::Session(Box::new(s)))
            })
        })
        .await
}

/// Reserves a sign-in attempt of `email` from the origin's address under
/// the login limits (423 when locked, audited, 429 for the address), with
/// the user of that address if there is one.
async fn reserve_attempt(state: &AppState, email: &str, origin: &Origin) -> ApiResult<(i64, Option<User>)> {
    let settings = state.settings.auth.clone();
    let (email, ip, request_id) = (email.to_string(), origin.ip.clone(), origin.request_id.clone());
    state
        .db
        .run(move |conn| {
            let user = accounts::find_user_by_email(conn, &email)?;
            match rate_limit::reserve(conn, &settings, &email, &ip, techtrade_db::now()) {
                Ok(attempt_id) => Ok((attempt_id, user)),
                Err(refused) => {
                    // An attempt on a locked account is a failed sign-in
                    // too; one refused by the address limit never reached
                    // an account.
                    if refused.code() == ErrorCode::AccountLocked {
                        let (subject_type, subject_id) = match &user {
                            Some(user) => ("user", user.id.as_str()),
                            None => ("login", email.as_str()),
                        };
                        audit::append(
                            conn,
                            audit::AuditEntry {
                                actor_user_id: user.as_ref().map(|u| u.id.as_str()),
                                action: "session.denied",
                                subject_type,
                                subject_id,
                                after: Some(serde_json::json!({"email": email, "ip": ip, "reason": "locked"})),
                                request_id: request_id.as_deref(),
                                outcome: audit::Outcome::Denied,
                                ..Default::default()
                            },
                        )?;
                    }
                    Err(refused)
                }
            }
        })
        .await
}

/// A challenge for `user`, whose password was right: its token is returned
/// once, its hash kept for [`CHALLENGE_TTL`].
fn challenge(conn: &mut AnyConnection, user: &User, origin: &Origin, now: NaiveDateTime) -> ApiResult<SignIn> {
    let token = users::random_token()?;
    let row = second_factor::LoginChallenge {
        id: ids::new_id(),
        user_id: user.id.clone(),
        token_hash: techtrade_web::auth::hash_token(&token),
        ip: Some(origin.ip.clone()),
        user_agent: origin.user_agent.clone(),
        created_at: now,
        expires_at: now + CHALLENGE_TTL,
        used_at: None,
    };
    second_factor::insert_challenge(conn, &row)?;
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(&user.id),
            action: "session.challenge",
            subject_type: "user",
            subject_id: &user.id,
            after: Some(serde_json::json!({"ip": origin.ip, "factor": "totp"})),
            request_id: origin.request_id.as_deref(),
            ..Default::default()
        },
    )?;
    Ok(SignIn::SecondFactor { challenge: token, expires_at: row.expires_at.and_utc() })
}

/// Trades a challenge and a right code for a session.
pub async fn sign_in_with_code(
    state: &AppState,
    request: SecondFactorLoginRequest,
    client: Client<'_>,
) -> ApiResult<LoginResponse> {
    let origin = Origin::from(client);
    let token_hash = techtrade_web::auth::hash_token(request.challenge.trim());
    let found = state
        .db
        .run(move |conn| {
            let now = techtrade_db::now();
            let Some(challenge) = second_factor::find_live_challenge(conn, &token_hash, now)? else {
                return Ok(None);
            };
            let user = accounts::find_user(conn, &challenge.user_id)?.filter(|u| u.disabled_at.is_none());
            Ok::<_, ApiError>(user.map(|user| (challenge, user)))
        })
        .await?;
    let Some((challenge, user)) = found else {
        return Err(ApiError::new(
            ErrorCode::InvalidChallenge,
            "the challenge is unknown, used or expired: sign in with your password again",
        ));
    };
    let (attempt_id, _) = reserve_attempt(state, &user.email, &origin).await?;
    let settings = state.settings.auth.clone();
    let (code, session_origin) = (request.code, origin.clone());
    let (user_id, email) = (user.id.clone(), user.email.clone());
    let signed_in = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                let Some(factor) = check_code(conn, &user.id, &code, now)? else { return Ok(None) };
                if !second_factor::use_challenge(conn, &challenge.id, now)? {
                    return Err(ApiError::new(ErrorCode::InvalidChallenge, "the challenge was used already"));
                }
                rate_limit::succeeded(conn, &settings, attempt_id, now)?;
                let kind = factor.as_str();
                if let UsedFactor::RecoveryCode { left } = factor {
                    recovery_code_used(conn, &user.id, left, session_origin.request_id.as_deref())?;
                }
                open_session(conn, &settings, user, &session_origin, kind, now).map(Some)
            })
        })
        .await?;
    match signed_in {
        Some(session) => Ok(session),
        None => {
            let failure = Failure { email, user_id: Some(user_id), reason: "wrong_code" };
            failed_sign_in(state, failure, origin.ip, attempt_id, origin.request_id).await?;
            Err(ApiError::new(ErrorCode::WrongCode, "the code is wrong or was used already").with_field(
                "code",
                "wrong_code",
                "not the code your authenticator app shows now, nor an unused recovery code",
            ))
        }
    }
}

/// A recovery code was used to sign in: audited, and the owner told by
/// e-mail (someone with their password and a code list got in).
fn recovery_code_used(
    conn: &mut AnyConnection,
    user_id: &str,
    left: i64,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(user_id),
            action: "user.recovery_code_use",
            subject_type: "user",
            subject_id: user_id,
            after: Some(serde_json::json!({"left": left})),
            request_id,
            ..Default::default()
        },
    )?;
    let at_local = techtrade_db::now().and_utc().with_timezone(&techtrade_db::market_offset());
    let payload = serde_json::json!({
        "user_id": user_id,
        "left": left,
        "at_local": at_local.format("%Y-%m-%d %H:%M").to_string(),
    });
    outbox::emit(conn, "account.recovery_code_used", "user", user_id, &payload)?;
    Ok(())
}

/// A new session for `user`, audited with how they proved who they are.
fn open_session(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    user: User,
    origin: &Origin,
    factor: &str,
    now: NaiveDateTime,
) -> ApiResult<LoginResponse> {
    let token = users::random_token()?;
    let ttl = TimeDelta::from_std(settings.token_ttl).map_err(ApiError::internal)?;
    let session = Session {
        id: ids::new_id(),
        user_id: user.id.clone(),
        token_hash: techtrade_web::auth::hash_token(&token),
        ip: Some(origin.ip.clone()),
        user_agent: origin.user_agent.clone(),
        created_at: now,
        expires_at: now + ttl,
        revoked_at: None,
        last_seen_at: None,
    };
    let expires_at = session.expires_at.and_utc();
    let required_first = required_first(settings, &user, factor != "password", now)?;
    accounts::insert_session(conn, &session)?;
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(&user.id),
            action: "session.create",
            subject_type: "session",
            subject_id: &session.id,
            after: Some(serde_json::json!({
                "user_id": user.id, "ip": session.ip, "expires_at": expires_at, "factor": factor,
            })),
            request_id: origin.request_id.as_deref(),
            ..Default::default()
        },
    )?;
    Ok(LoginResponse { token, expires_at, user: user.into(), required_first })
}

/// What a new session of `user` must do first, as the guard will ask it
/// (`techtrade_web::auth`): the codes of its refusals, in order.
fn required_first(
    settings: &AuthSettings,
    user: &User,
    second_factor: bool,
    now: NaiveDateTime,
) -> ApiResult<Vec<String>> {
    let role = techtrade_web::auth::stored_role(user)?;
    let mut required = Vec::new();
    if techtrade_web::auth::PasswordChange::under(settings, user, role, now).is_some() {
        required.push(ErrorCode::PasswordChangeRequired.as_str().to_string());
    }
    if settings.require_staff_totp && role.is_staff() && !second_factor {
        required.push(ErrorCode::SecondFactorEnrolmentRequired.as_str().to_string());
    }
    Ok(required)
}

/// A failed sign-in: whose, and why (`wrong_password`, `wrong_code`).
pub(crate) struct Failure {
    pub email: String,
    pub user_id: Option<String>,
    pub reason: &'static str,
}

/// A wrong password or code, at sign-in or in a password change (its
/// reserved attempt stays a failure): a `session.denied` entry in the audit
/// log and, when it locks the account, a `user.lock` entry and
/// `account.locked` in the outbox, which e-mails the owner. An address no
/// account has is audited under it, and locks the same way, without an
/// e-mail.
pub(crate) async fn failed_sign_in(
    state: &AppState,
    failure: Failure,
    ip: String,
    attempt_id: i64,
    request_id: Option<String>,
) -> ApiResult<()> {
    let settings = state.settings.auth.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let Failure { email, user_id, reason } = &failure;
                let now = techtrade_db::now();
                let locked = rate_limit::failed(conn, &settings, email, &ip, attempt_id, now)?;
                let (subject_type, subject_id) = match user_id {
                    Some(id) => ("user", id.as_str()),
                    None => ("login", email.as_str()),
                };
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: user_id.as_deref(),
                        action: "session.denied",
                        subject_type,
                        subject_id,
                        after: Some(serde_json::json!({"email": email, "ip": ip, "reason": reason})),
                        request_id: request_id.as_deref(),
                        outcome: audit::Outcome::Denied,
                        ..Default::default()
                    },
                )?;
                if let (Some(until), Some(user_id)) = (locked, user_id) {
                    let until_utc = until.and_utc();
                    audit::append(
                        conn,
                        audit::AuditEntry {
                            actor_user_id: None,
                            action: "user.lock",
                            subject_type: "user",
                            subject_id: user_id,
                            after: Some(serde_json::json!({"until": until_utc})),
                            request_id: request_id.as_deref(),
                            outcome: audit::Outcome::Denied,
                            ..Default::default()
                        },
                    )?;
                    let local = until_utc.with_timezone(&techtrade_db::market_offset());
                    let payload = serde_json::json!({
                        "user_id": user_id,
                        "until": until_utc,
                        "until_local": local.format("%Y-%m-%d %H:%M").to_string(),
                        "minutes": settings.lockout.as_secs() / 60,
                    });
                    outbox::emit(conn, "account.locked", "user", user_id, &payload)?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await
}
