//! Stripe's webhook signature: `Stripe-Signature: t=<unix time>,v1=<hex>`
//! where the hex is HMAC-SHA256 keyed with the endpoint's signing secret
//! (`whsec_…`, its bytes as given) over `"<t>.<raw body>"`. Several `v1`
//! entries appear while a secret is being rolled; any one may match.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far the signed time may be from ours: Stripe's own default.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header has no timestamp")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signed timestamp is {0} s away from now, more than the tolerance")]
    OutsideTolerance(i64),
    #[error("no signature matches the body")]
    Mismatch,
}

/// Checks `header` against `body` signed with `secret` at about `now`
/// (unix seconds). The comparison is constant-time (`Mac::verify_slice`).
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let mac = signed_mac(secret, timestamp, body);
    if !signatures.iter().any(|signature| mac.clone().verify_slice(signature).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    // The age is checked after the signature so that a forged header
    // learns nothing about our clock.
    let skew = now.saturating_sub(timestamp).saturating_abs();
    if skew > tolerance {
        return Err(SignatureError::OutsideTolerance(skew));
    }
    Ok(())
}

fn signed_mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp` (for tests and
/// for replaying events by hand).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let digest = signed_mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_790_000_000;

    #[test]
    fn a_signed_body_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, SECRET, NOW - 10);
        assert_eq!(verify(&header, body, SECRET, NOW, DEFAULT_TOLERANCE_SECONDS), Ok(()));
    }

    #[test]
    fn the_scheme_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently with Python: hmac.new(b"whsec_test_secret", b"1700000000.{}", sha256).
        assert_eq!(
            sign(b"{}", SECRET, 1_700_000_000),
            "t=1700000000,v1=ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
        );
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_fails() {
        let header = sign(br#"{"amount":100}"#, SECRET, NOW);
        assert_eq!(verify(&header, br#"{"amount":999}"#, SECRET, NOW, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(&header, br#"{"amount":100}"#, "whsec_other", NOW, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn old_or_future_timestamps_fail() {
        let body = b"{}";
        assert_eq!(
            verify(&sign(body, SECRET, NOW - 301), body, SECRET, NOW, 300),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(
            verify(&sign(body, SECRET, NOW + 400), body, SECRET, NOW, 300),
            Err(SignatureError::OutsideTolerance(400))
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let body = b"{}";
        let good = sign(body, SECRET, NOW);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let header = format!("t={NOW},v1={},v1={v1},v0=ignored", "00".repeat(32));
        assert_eq!(verify(&header, body, SECRET, NOW, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_fail() {
        assert_eq!(verify("v1=abcd", b"{}", SECRET, NOW, 300), Err(SignatureError::NoTimestamp));
        assert_eq!(verify("t=123", b"{}", SECRET, NOW, 300), Err(SignatureError::NoSignature));
        assert_eq!(verify("t=123,v1=not-hex", b"{}", SECRET, NOW, 300), Err(SignatureError::NoSignature));
        assert_eq!(verify("", b"{}", SECRET, NOW, 300), Err(SignatureError::NoTimestamp));
    }
}
