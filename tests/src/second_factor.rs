//! An authenticator app's part in the tests: the codes it shows, and a
//! second factor enrolled or signed in with through the API.

use diesel::prelude::*;
use serde_json::json;
use techtrade_db::schema::second_factors;
use totp_rs::{Builder, Secret};

use crate::TestApp;

/// The code an app holding `secret` (base 32, as enrolment gives it) shows
/// `steps_ahead` 30-second steps from now.
pub fn code(secret: &str, steps_ahead: u64) -> String {
    let app = Builder::new().with_secret(Secret::try_from_base32(secret).unwrap()).build().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    app.generate(now + 30 * steps_ahead).to_string()
}

/// A second factor enrolled and confirmed.
pub struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// Enrols a second factor for the holder of `token` and confirms it.
pub async fn enrol(app: &TestApp, token: &str) -> Enrolled {
    let started = app.post("/api/v1/me/totp", Some(token), json!({})).await;
    started.assert_status(200);
    let secret = started.json["secret"].as_str().unwrap().to_string();
    let confirmed = app.post("/api/v1/me/totp/confirm", Some(token), json!({"code": code(&secret, 0)})).await;
    confirmed.assert_status(200);
    let recovery_codes =
        confirmed.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    Enrolled { secret, recovery_codes }
}

/// Forgets which codes `user_id` used, as if the clock had moved on: a
/// code is accepted once, and tests sign in more often than every 30 s.
pub fn forget_used_codes(app: &TestApp, user_id: &str) {
    let mut conn = app.database.connect();
    diesel::update(second_factors::table.find(user_id))
        .set(second_factors::last_step.eq(None::<i64>))
        .execute(&mut conn)
        .unwrap();
}

/// The challenge a right password earns from an account with a second factor.
pub async fn challenge(app: &TestApp, email: &str, password: &str) -> String {
    let answer = app.post("/api/v1/auth/login", None, json!({"email": email, "password": password})).await;
    answer.assert_problem(401, "second_factor_required");
    answer.json["challenge"].as_str().unwrap().to_string()
}

/// Signs in with the password and the app's current code; the token.
pub async fn login(app: &TestApp, user_id: &str, email: &str, password: &str, secret: &str) -> String {
    forget_used_codes(app, user_id);
    let challenge = challenge(app, email, password).await;
    let answer =
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": code(secret, 0)})).await;
    answer.assert_status(200);
    answer.json["token"].as_str().unwrap().to_string()
}
