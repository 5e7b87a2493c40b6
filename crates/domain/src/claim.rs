//! Subsidy claims after submission: two review levels by different
//! officials, then a round that fixes the final amount.
//!
//! ```text
//! submitted ──level 1 approve──▶ first_approved ──level 2 approve──▶ approved ──round closes──▶ publicized
//!     │                              │
//!     ├──level 1 reject──▶ rejected ◀┤ level 2 reject
//!     │                              │
//!     └──────────────────────────────┴──round closes with "pending": "exclude"──▶ not_in_round
//! ```
//!
//! A reviewer may lower the amount (with a reason), never raise it: level 1
//! up to the computed amount, level 2 up to what level 1 approved.
//!
//! A round closes only when none of its claims is still under review, or
//! when the official closing it leaves those out: they become
//! `not_in_round`, with a reason. That is final for the round, as
//! `rejected` is: the round is closed, so the claim can be neither
//! reviewed nor made again (one claim per organisation, program, year and
//! role).

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::violations::Violations;

vocabulary! {
    /// Where a claim is.
    ClaimStatus {
        Submitted = "submitted",
        /// Passed level 1 (受理/初审); waits for level 2 (复审).
        FirstApproved = "first_approved",
        /// Passed both levels; waits for the round to close.
        Approved = "approved",
        Rejected = "rejected",
        /// In a closed round, with its final amount, on the public notice.
        Publicized = "publicized",
        /// Still under review when its year's round closed without it: final.
        NotInRound = "not_in_round",
    }
}

impl ClaimStatus {
    /// The statuses of a claim that still waits for a review.
    pub const UNDER_REVIEW: [Self; 2] = [Self::Submitted, Self::FirstApproved];

    pub fn is_under_review(self) -> bool {
        self.awaiting_level().is_some()
    }

    /// The review level a claim in this status waits for: 1 (受理/初审)
    /// when submitted, 2 (复审) when first approved, none otherwise.
    pub fn awaiting_level(self) -> Option<u8> {
        match self {
            Self::Submitted => Some(1),
            Self::FirstApproved => Some(2),
            Self::Approved | Self::Rejected | Self::Publicized | Self::NotInRound => None,
        }
    }
}

vocabulary! {
    /// Where a closed round's award to one claim is.
    DisbursementStatus {
        /// Published, not yet paid out.
        Pending = "pending",
        /// Paid out: the transfer is recorded with its date and reference.
        Paid = "paid",
    }
}

vocabulary! {
    /// A reviewer's verdict.
    ReviewDecision { Approve = "approve", Reject = "reject" }
}

/// Why a reviewer may not review a claim now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRefusal {
    #[error("an official may not review a claim of their own organisation")]
    OwnOrganization,
    #[error("level 2 must be reviewed by another official than level 1")]
    SameReviewer,
    #[error("a claim that is {0} is not awaiting review")]
    NotAwaitingReview(ClaimStatus),
}

impl ReviewRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::OwnOrganization => "own_organization",
            Self::SameReviewer => "same_reviewer",
            Self::NotAwaitingReview(_) => "invalid_state",
        }
    }
}

/// Who reviews, and what the claim's history says about them.
#[derive(Debug, Clone, Copy)]
pub struct Reviewer<'a> {
    pub user_id: &'a str,
    /// The reviewer belongs to the claimant organisation.
    pub of_claimant: bool,
}

/// The level this review is at and the status after `decision`; refused
/// for the claimant's own officials, for the level-1 reviewer at level 2,
/// and outside the two review states.
pub fn review(
    status: ClaimStatus,
    decision: ReviewDecision,
    reviewer: Reviewer<'_>,
    level_one_reviewer: Option<&str>,
) -> Result<(u8, ClaimStatus), ReviewRefusal> {
    if reviewer.of_claimant {
        return Err(ReviewRefusal::OwnOrganization);
    }
    let level = match status.awaiting_level() {
        Some(2) if level_one_reviewer == Some(reviewer.user_id) => return Err(ReviewRefusal::SameReviewer),
        Some(level) => level,
        None => return Err(ReviewRefusal::NotAwaitingReview(status)),
    };
    let next = match (level, decision) {
        (_, ReviewDecision::Reject) => ClaimStatus::Rejected,
        (1, ReviewDecision::Approve) => ClaimStatus::FirstApproved,
        (_, ReviewDecision::Approve) => ClaimStatus::Approved,
    };
    Ok((level, next))
}

/// The amount a review approves: `ceiling` unless lowered (with a reason),
/// never above it. A rejection needs a reason and approves nothing.
pub fn reviewed_amount(
    decision: ReviewDecision,
    amount_fen: Option<i64>,
    reason: Option<&str>,
    ceiling: Money,
) -> Result<Option<Money>, Violations> {
    let mut violations = Violations::new();
    let has_reason = reason.is_some_and(|r| !r.trim().is_empty());
    let amount = match (decision, amount_fen) {
        (ReviewDecision::Reject, _) => {
            if !has_reason {
                violations.push("reason", "required", "a rejection needs a reason the claimant can act on");
            }
            None
        }
        (ReviewDecision::Approve, None) => Some(ceiling),
        (ReviewDecision::Approve, Some(fen)) => match Money::from_fen(fen) {
            Err(error) => {
                violations.push("amount_fen", crate::violations::Coded::code(&error), error.to_string());
                None
            }
            Ok(amount) if amount > ceiling => {
                violations.push(
                    "amount_fen",
                    "exceeds_computed",
                    format!("at most {ceiling}, the amount under review"),
                );
                None
            }
            Ok(amount) => {
                if amount < ceiling && !has_reason {
                    violations.push("reason", "required", "approving a lower amount needs a reason");
                }
                Some(amount)
            }
        },
    };
    violations.finish(|| Some(amount))
}

/// The last day of a public notice of `working_days` working days starting
/// the day after `published` (weekends skipped; public holidays are not
/// known here and count as working days, so officials may extend it).
pub fn notice_until(published: NaiveDate, working_days: u32) -> NaiveDate {
    let mut day = published;
    let mut left = working_days;
    while left > 0 {
        day = day.succ_opt().unwrap_or(day);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::ClaimStatus::*;
    use super::ReviewDecision::*;
    use super::*;

    const ALICE: Reviewer<'static> = Reviewer { user_id: "alice", of_claimant: false };
    const BOB: Reviewer<'static> = Reviewer { user_id: "bob", of_claimant: false };

    #[test]
    fn two_levels_by_two_officials() {
        assert_eq!(review(Submitted, Approve, ALICE, None), Ok((1, FirstApproved)));
        assert_eq!(review(FirstApproved, Approve, BOB, Some("alice")), Ok((2, Approved)));
        assert_eq!(review(FirstApproved, Approve, ALICE, Some("alice")), Err(ReviewRefusal::SameReviewer));
        assert_eq!(review(Submitted, Reject, ALICE, None), Ok((1, Rejected)));
        assert_eq!(review(FirstApproved, Reject, BOB, Some("alice")), Ok((2, Rejected)));
    }

    #[test]
    fn no_review_outside_the_two_levels_or_of_ones_own() {
        for status in [Approved, Rejected, Publicized, NotInRound] {
            let refusal = review(status, Approve, BOB, Some("alice")).unwrap_err();
            assert_eq!((refusal, refusal.code()), (ReviewRefusal::NotAwaitingReview(status), "invalid_state"));
        }
        let own = Reviewer { user_id: "carol", of_claimant: true };
        assert_eq!(review(Submitted, Approve, own, None).unwrap_err().code(), "own_organization");
    }

    #[test]
    fn only_submitted_and_first_approved_claims_are_under_review() {
        let under_review: Vec<ClaimStatus> = ClaimStatus::ALL.iter().copied().filter(|s| s.is_under_review()).collect();
        assert_eq!(under_review, [Submitted, FirstApproved]);
        assert_eq!(ClaimStatus::UNDER_REVIEW.to_vec(), under_review);
        assert_eq!(
            (Submitted.awaiting_level(), FirstApproved.awaiting_level(), Approved.awaiting_level()),
            (Some(1), Some(2), None)
        );
        assert_eq!(NotInRound.as_str(), "not_in_round");
    }

    #[test]
    fn amounts_may_be_lowered_with_a_reason_never_raised() {
        let ceiling = Money::from_fen(10_000).unwrap();
        assert_eq!(reviewed_amount(Approve, None, None, ceiling), Ok(Some(ceiling)));
        assert_eq!(reviewed_amount(Approve, Some(10_000), None, ceiling), Ok(Some(ceiling)));
        assert_eq!(
            reviewed_amount(Approve, Some(8_000), Some("部分合同款未到账"), ceiling),
            Ok(Some(Money::from_fen(8_000).unwrap()))
        );
        let codes = |r: Result<Option<Money>, Violations>| {
            r.unwrap_err().into_vec().into_iter().map(|v| (v.field, v.code)).collect::<Vec<_>>()
        };
        assert_eq!(codes(reviewed_amount(Approve, Some(8_000), None, ceiling)), [("reason".into(), "required")]);
        assert_eq!(
            codes(reviewed_amount(Approve, Some(10_001), Some("x"), ceiling)),
            [("amount_fen".into(), "exceeds_computed")]
        );
        assert_eq!(
            codes(reviewed_amount(Approve, Some(-1), Some("x"), ceiling)),
            [("amount_fen".into(), "negative_amount")]
        );
        assert_eq!(codes(reviewed_amount(Reject, None, Some(" "), ceiling)), [("reason".into(), "required")]);
        assert_eq!(reviewed_amount(Reject, None, Some("材料不全"), ceiling), Ok(None));
    }

    #[test]
    fn a_notice_runs_for_working_days() {
        // Wednesday 2026-11-25 + 5 working days = Wednesday 2026-12-02.
        let wednesday = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(notice_until(wednesday, 5), NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        // Friday + 1 working day = Monday.
        let friday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(notice_until(friday, 1), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(notice_until(friday, 0), friday);
    }
}
