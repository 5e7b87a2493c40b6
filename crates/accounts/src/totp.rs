//! The pieces of the second factor that need no database: TOTP codes
//! (RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30-second steps, one step
//! of clock drift either way, as every authenticator app reads them), the
//! secret sealed for storage, recovery codes and the enrolment QR code.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Totp};

/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 block RFC 4226 advises.
const SECRET_BYTES: usize = 20;
const NONCE_BYTES: usize = 24;
/// Seconds per code.
pub const STEP_SECONDS: u64 = 30;

/// What an authenticator app shows as the account's issuer.
pub const ISSUER: &str = "techtrade";

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, String> {
    let mut secret = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    Ok(secret)
}

/// The TOTP of `secret` for the account `label` (an e-mail address).
pub fn totp(secret: &[u8], label: &str) -> Result<Totp, String> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        // A colon separates issuer and account in the URL; e-mail
        // addresses have none, but the label must never break the URL.
        .with_account_name(label.replace(':', ""))
        .build()
        .map_err(|e| format!("TOTP: {e}"))
}

/// The time step a six-digit `code` is right for at `unix_seconds` (the
/// current step or one either side), if any. Spaces are allowed, as apps
/// show codes in two groups of three.
pub fn matching_step(totp: &Totp, code: &str, unix_seconds: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(&code, unix_seconds).and_then(|step| i64::try_from(step).ok())
}

/// The secret sealed for the database under `key` (XChaCha20-Poly1305, a
/// random nonce, the user's id as associated data so that a sealed secret
/// copied to another user does not open): hex of nonce and ciphertext.
pub fn seal(key: &[u8; 32], user_id: &str, secret: &[u8]) -> Result<String, String> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: secret, aad: user_id.as_bytes() })
        .map_err(|_| "sealing the secret failed".to_string())?;
    let mut stored = nonce.to_vec();
    stored.extend_from_slice(&sealed);
    Ok(hex::encode(stored))
}

/// The secret [`seal`] sealed; an error when it was sealed under another
/// key or for another user, or was altered.
pub fn open(key: &[u8; 32], user_id: &str, sealed: &str) -> Result<Vec<u8>, String> {
    let bytes = hex::decode(sealed).map_err(|_| "the sealed secret is not hex".to_string())?;
    if bytes.len() <= NONCE_BYTES {
        return Err("the sealed secret is too short".to_string());
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| "bad nonce".to_string())?;
    XChaCha20Poly1305::new(&(*key).into())
        .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: user_id.as_bytes() })
        .map_err(|_| "the sealed secret does not open with this key".to_string())
}

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;

/// The recovery codes' alphabet: Crockford's base 32 in lower case (no
/// i, l, o or u, which read as 1, 1, 0 and v).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// New recovery codes: 16 characters (80 random bits) in four groups,
/// `k7m2-…`. That many bits make their plain SHA-256 in the database as
/// safe as a slow hash would be for a password.
pub fn new_recovery_codes() -> Result<Vec<String>, String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            let chars: Vec<char> = bytes.iter().map(|b| char::from(RECOVERY_ALPHABET[usize::from(b % 32)])).collect();
            Ok(chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
        })
        .collect()
}

/// A recovery code as typed, in its one stored form: case, spaces and
/// dashes ignored, i/l read as 1 and o as 0. `None` when it cannot be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == 16 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// What the database keeps of a recovery code.
pub fn recovery_code_hash(code: &str) -> Option<String> {
    normalize_recovery_code(code).map(|normal| hex::encode(Sha256::digest(normal.as_bytes())))
}

/// The otpauth:// URL as a QR code: a standalone SVG document, black on
/// white with the quiet zone, no style attributes (the web front's CSP).
pub fn qr_svg(url: &str) -> Result<String, String> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| format!("QR code: {e}"))?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_are_those_of_rfc_6238() {
        let totp = totp(RFC_SECRET, "a@example.cn").unwrap();
        // The RFC's 8-digit values, cut to the 6 digits apps show.
        for (time, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(totp.generate(time).to_string(), code, "at {time}");
            assert_eq!(matching_step(&totp, code, time), Some((time / 30) as i64));
        }
    }

    #[test]
    fn a_code_counts_one_step_either_side_and_no_further() {
        let totp = totp(RFC_SECRET, "a@example.cn").unwrap();
        let now = 1_234_567_890;
        let code = totp.generate(now).to_string();
        let step = (now / 30) as i64;
        assert_eq!(matching_step(&totp, &code, now + 30), Some(step), "the next step still takes it");
        assert_eq!(matching_step(&totp, &code, now - 30), Some(step), "a clock a step behind too");
        assert_eq!(matching_step(&totp, &code, now + 60), None, "two steps later it is gone");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(&totp, &spaced, now), Some(step), "as apps show it");
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(matching_step(&totp, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_url_names_the_issuer_and_the_account() {
        let url = totp(RFC_SECRET, "ip@qhsl.example.cn").unwrap().to_url().unwrap();
        assert!(url.starts_with("otpauth://totp/techtrade:ip%40qhsl.example.cn?"), "{url}");
        assert!(url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{url}");
        assert!(url.contains("issuer=techtrade"), "{url}");
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_user() {
        let key = [7u8; 32];
        let sealed = seal(&key, "user-1", RFC_SECRET).unwrap();
        assert!(!sealed.contains(&hex::encode(RFC_SECRET)), "the secret is not readable in the row");
        assert_eq!(open(&key, "user-1", &sealed).unwrap(), RFC_SECRET);
        assert_ne!(seal(&key, "user-1", RFC_SECRET).unwrap(), sealed, "a fresh nonce each time");
        assert!(open(&[8u8; 32], "user-1", &sealed).is_err(), "another key");
        assert!(open(&key, "user-2", &sealed).is_err(), "copied to another user");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        assert!(open(&key, "user-1", &String::from_utf8(altered).unwrap()).is_err(), "altered");
        assert!(open(&key, "user-1", "zz").is_err());
    }

    #[test]
    fn recovery_codes_are_random_and_read_forgivingly() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            assert_eq!(normalize_recovery_code(code).unwrap(), code.replace('-', ""));
        }
        assert_eq!(normalize_recovery_code("K7M2 OIL0-abcd-efgh").as_deref(), Some("k7m20110abcdefgh"));
        assert_eq!(recovery_code_hash("k7m2-0110-abcd-efgh"), recovery_code_hash("K7M2 OIL0 ABCD EFGH"));
        for bad in ["", "k7m2-0110-abcd", "k7m2-0110-abcd-efgh-j", "k7m2-0110-abcd-efgu", "123456"] {
            assert_eq!(normalize_recovery_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_qr_code_is_plain_svg() {
        let svg = qr_svg("otpauth://totp/techtrade:a%40b.cn?secret=GEZDGNBVGY3TQOJQ&issuer=techtrade").unwrap();
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"), "no inline styles under the CSP");
    }
}
