//! When a transiently failed email is tried again: exponential backoff
//! (base × 2^(attempt − 1), capped), and a limit on attempts.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
    /// Attempts in all, the first included; the last failure is final.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(30), cap: Duration::from_secs(3600), max_attempts: 8 }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` attempts failed,
    /// or `None` when they were the last allowed.
    pub fn next_delay(&self, attempts: u32) -> Option<Duration> {
        if attempts == 0 || attempts >= self.max_attempts {
            return None;
        }
        // 2^31 × any base already exceeds every sensible cap; saturate there.
        let factor = 1u32.checked_shl(attempts - 1).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_then_gives_up() {
        let policy = RetryPolicy { base: Duration::from_secs(30), cap: Duration::from_secs(300), max_attempts: 6 };
        let delays: Vec<Option<u64>> = (1..=6).map(|n| policy.next_delay(n).map(|d| d.as_secs())).collect();
        assert_eq!(delays, [Some(30), Some(60), Some(120), Some(240), Some(300), None]);
    }

    #[test]
    fn large_attempt_counts_saturate_instead_of_overflowing() {
        let policy = RetryPolicy { base: Duration::from_secs(1), cap: Duration::from_secs(7200), max_attempts: 1000 };
        assert_eq!(policy.next_delay(40), Some(Duration::from_secs(7200)));
        assert_eq!(policy.next_delay(999), Some(Duration::from_secs(7200)));
        assert_eq!(policy.next_delay(1000), None);
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
        assert_eq!(policy.next_delay(1), None);
    }
}
