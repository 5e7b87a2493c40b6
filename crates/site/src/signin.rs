//! Signing in and out, and registering an organisation: the accounts
//! service behind forms, the session in a cookie.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use techtrade_accounts::{
    Client, LoginRequest, LoginResponse, NewOrganizationRequest, NewUserRequest, PasswordHasher, RegistrableKind,
    RegistrationRequest, SecondFactorLoginRequest, SignIn,
};
use techtrade_web::{ApiError, AppState, ClientIp, ErrorCode, RequestId};

use crate::SiteOptions;
use crate::page::{self, Ctx, FormErrors};
use crate::session::{SESSION_COOKIE, Visitor, set_cookie};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    email: String,
    next: String,
    errors: FormErrors,
}

/// The second step of signing in: the code of the authenticator app.
#[derive(Template)]
#[template(path = "login_code.html")]
struct LoginCodePage {
    ctx: Ctx,
    challenge: String,
    next: String,
    errors: FormErrors,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where a sign-in goes when nothing asked for another page: each role's
/// own home (members their workspace, officials and the system
/// administrator the console, the auditor the audit log, the security
/// administrator the staff page).
fn home_of(role: &str) -> &'static str {
    match techtrade_domain::Role::from_db(role) {
        Some(techtrade_domain::Role::Official | techtrade_domain::Role::Admin) => "/console",
        Some(techtrade_domain::Role::Auditor) => "/console/audit",
        Some(techtrade_domain::Role::SecurityAdmin) => "/console/users",
        Some(techtrade_domain::Role::Member) | None => "/workspace",
    }
}

/// The page to go to after signing in: the local path asked for, if any.
fn next_page(next: Option<&str>) -> Option<String> {
    next.filter(|path| !path.is_empty()).map(|path| page::local_path(Some(path)))
}

pub async fn login_form(visitor: Visitor, axum::extract::Query(query): axum::extract::Query<NextQuery>) -> Response {
    let next = next_page(query.next.as_deref());
    if let Some(user) = &visitor.user {
        return page::redirect(next.as_deref().unwrap_or(home_of(user.role.as_str())));
    }
    let next = next.unwrap_or_default();
    let page = LoginPage { ctx: Ctx::new(&visitor), email: String::new(), next, errors: FormErrors::default() };
    page::render(&visitor, StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// The session cookie of a new sign-in, and where to go next.
fn signed_in(visitor: &Visitor, options: &SiteOptions, token: &str, ttl_seconds: u64, next: &str) -> Response {
    let mut response = page::redirect(next);
    let mut visitor = visitor.clone();
    visitor.cookies.push(set_cookie(options, SESSION_COOKIE, token, Some(ttl_seconds)));
    page::finish(&visitor, &mut response);
    response
}

/// A sign-in or registration form as sent, read as the API reads query
/// text (blank fields are not given, NUL characters dropped); what does not
/// read is an empty form, which the service then refuses field by field.
fn read_form<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
    std::str::from_utf8(body).ok().and_then(|text| techtrade_web::parse_query(text).ok()).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
pub async fn login(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    Extension(options): Extension<SiteOptions>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let form: LoginForm = read_form(&body);
    let next = next_page(form.next.as_deref());
    let request = LoginRequest { email: form.email.clone(), password: form.password };
    let client = Client::of(&ip, &headers, request_id);
    match techtrade_accounts::sign_in(&state, &hasher, request, client).await {
        Ok(SignIn::Session(session)) => session_started(&state, &visitor, &options, &session, next),
        Ok(SignIn::SecondFactor { challenge, .. }) => {
            let page = LoginCodePage {
                ctx: Ctx::new(&visitor),
                challenge,
                next: next.unwrap_or_default(),
                errors: FormErrors::default(),
            };
            page::render(&visitor, StatusCode::OK, &page)
        }
        Err(error) if error.code().status().is_server_error() => page::error_page(&visitor, &error),
        Err(error) => {
            let page = LoginPage {
                ctx: Ctx::new(&visitor),
                email: form.email,
                next: next.unwrap_or_default(),
                errors: FormErrors::general_only(page::error_message(visitor.lang, &error)),
            };
            page::render(&visitor, error.code().status(), &page)
        }
    }
}

/// A session begun: its cookie, and the page asked for or the role's home.
fn session_started(
    state: &AppState,
    visitor: &Visitor,
    options: &SiteOptions,
    session: &LoginResponse,
    next: Option<String>,
) -> Response {
    let next = next.unwrap_or_else(|| home_of(&session.user.role).to_string());
    signed_in(visitor, options, &session.token, state.settings.auth.token_ttl.as_secs(), &next)
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// `POST /login/code`: the challenge of a right password and the code of
/// the app (or a recovery code). A wrong code asks again on the same page;
/// a challenge that expired, or a lock-out, goes back to the password.
#[allow(clippy::too_many_arguments)]
pub async fn login_code(
    State(state): State<AppState>,
    Extension(options): Extension<SiteOptions>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let form: CodeForm = read_form(&body);
    let next = next_page(form.next.as_deref());
    let request = SecondFactorLoginRequest { challenge: form.challenge.clone(), code: form.code };
    let client = Client::of(&ip, &headers, request_id);
    match techtrade_accounts::sign_in_with_code(&state, request, client).await {
        Ok(session) => session_started(&state, &visitor, &options, &session, next),
        Err(error) if error.code().status().is_server_error() => page::error_page(&visitor, &error),
        Err(error) if error.code() == ErrorCode::WrongCode => {
            let page = LoginCodePage {
                ctx: Ctx::new(&visitor),
                challenge: form.challenge,
                next: next.unwrap_or_default(),
                errors: FormErrors::from_error(visitor.lang, &error).without_general(),
            };
            page::render(&visitor, error.code().status(), &page)
        }
        Err(error) => {
            let page = LoginPage {
                ctx: Ctx::new(&visitor),
                email: String::new(),
                next: next.unwrap_or_default(),
                errors: FormErrors::general_only(page::error_message(visitor.lang, &error)),
            };
            page::render(&visitor, error.code().status(), &page)
        }
    }
}

/// `POST /logout`: the session is revoked and its cookie removed.
pub async fn logout(
    State(state): State<AppState>,
    Extension(options): Extension<SiteOptions>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
) -> Response {
    if let Some(user) = &visitor.user
        && let Err(error) = techtrade_accounts::sign_out(&state, user, request_id).await
    {
        return page::error_page(&visitor, &error);
    }
    let mut response = page::redirect("/");
    let mut visitor = visitor;
    visitor.cookies.push(set_cookie(&options, SESSION_COOKIE, "", Some(0)));
    page::finish(&visitor, &mut response);
    response
}

/// What the registration form holds; the names of its fields are the
/// API's field paths, so that an error lands next to its field.
#[derive(Debug, Default, Deserialize)]
pub struct RegistrationForm {
    #[serde(rename = "organization.name", default)]
    organization_name: String,
    #[serde(rename = "organization.kind", default)]
    kind: String,
    #[serde(rename = "organization.credit_code", default)]
    credit_code: String,
    #[serde(rename = "organization.region_code", default)]
    region_code: String,
    #[serde(rename = "user.name", default)]
    user_name: String,
    #[serde(rename = "user.email", default)]
    email: String,
    #[serde(rename = "user.password", default)]
    password: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    ctx: Ctx,
    form: RegistrationForm,
    kinds: Vec<&'static str>,
    errors: FormErrors,
}

fn register_page(visitor: &Visitor, status: StatusCode, form: RegistrationForm, errors: FormErrors) -> Response {
    let kinds = RegistrableKind::ALL.iter().map(|k| k.as_str()).collect();
    page::render(visitor, status, &RegisterPage { ctx: Ctx::new(visitor), form, kinds, errors })
}

pub async fn register_form(visitor: Visitor) -> Response {
    let form = RegistrationForm { region_code: "630100".into(), ..RegistrationForm::default() };
    register_page(&visitor, StatusCode::OK, form, FormErrors::default())
}

#[allow(clippy::too_many_arguments)]
pub async fn register(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    Extension(options): Extension<SiteOptions>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    visitor: Visitor,
    body: Bytes,
) -> Response {
    let mut form: RegistrationForm = read_form(&body);
    let Some(kind) = RegistrableKind::parse(&form.kind) else {
        let error = ApiError::invalid_field("organization.kind", "invalid_value", "choose the kind of organisation");
        form.password.clear();
        return register_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            FormErrors::from_error(visitor.lang, &error),
        );
    };
    let request = RegistrationRequest {
        organization: NewOrganizationRequest {
            name: form.organization_name.clone(),
            kind,
            credit_code: form.credit_code.clone(),
            region_code: form.region_code.clone(),
        },
        user: NewUserRequest {
            email: form.email.clone(),
            password: form.password.clone(),
            name: form.user_name.clone(),
        },
    };
    if let Err(error) = techtrade_accounts::register(&state, &hasher, request, &ip, request_id.clone()).await {
        if error.code().status().is_server_error() {
            return page::error_page(&visitor, &error);
        }
        // What was typed stays, but never the password.
        form.password.clear();
        return register_page(&visitor, error.code().status(), form, FormErrors::from_error(visitor.lang, &error));
    }
    // Registered: signed in at once, as the first member.
    let request = LoginRequest { email: form.email, password: form.password };
    let client = Client::of(&ip, &headers, request_id);
    match techtrade_accounts::sign_in(&state, &hasher, request, client).await {
        Ok(SignIn::Session(session)) => session_started(&state, &visitor, &options, &session, None),
        // A new account has no second factor; should that change, the
        // sign-in page asks for everything.
        Ok(SignIn::SecondFactor { .. }) | Err(_) => page::redirect("/login"),
    }
}
