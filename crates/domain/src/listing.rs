//! Listings (supply: patents and technology achievements) and demands:
//! their vocabularies and their shared lifecycle.
//!
//! ```text
//! draft ──submit──▶ pending_review ──approve──▶ published ──(deal completes)──▶ traded
//!   ▲                 │      ▲                     │
//!   │              reject    └──────edit───────────┘
//!   │                 ▼
//!   └──(edit)──── rejected ──submit──▶ pending_review
//! any state but traded ──withdraw──▶ withdrawn
//! ```

use serde::{Deserialize, Serialize};

vocabulary! {
    /// What a supply listing offers.
    ListingKind { Patent = "patent", Achievement = "achievement" }
}

vocabulary! {
    /// How far a technology is from production: 概念/小试/中试/产业化.
    Maturity { Concept = "concept", Lab = "lab", Pilot = "pilot", Industrial = "industrial" }
}

impl Maturity {
    /// 0 for a concept up to 3 for industrial use.
    pub fn rank(self) -> u8 {
        match self {
            Self::Concept => 0,
            Self::Lab => 1,
            Self::Pilot => 2,
            Self::Industrial => 3,
        }
    }
}

vocabulary! {
    /// How rights change hands: 转让, 独占/排他/普通许可, 作价入股, 合作开发.
    TradeMode {
        Assignment = "assignment",
        ExclusiveLicense = "exclusive_license",
        SoleLicense = "sole_license",
        NonexclusiveLicense = "nonexclusive_license",
        Equity = "equity",
        JointDevelopment = "joint_development",
    }
}

impl TradeMode {
    /// Whether the mode hands over rights that only one buyer can hold: an
    /// assignment (转让), an exclusive (独占) or sole (排他) licence, a
    /// contribution as equity (作价入股). Such a mode can be sold once.
    pub fn is_exclusive(self) -> bool {
        matches!(self, Self::Assignment | Self::ExclusiveLicense | Self::SoleLicense | Self::Equity)
    }

    /// Whether the mode licenses the rights (the licensor keeps them).
    pub fn is_license(self) -> bool {
        matches!(self, Self::ExclusiveLicense | Self::SoleLicense | Self::NonexclusiveLicense)
    }
}

vocabulary! {
    /// Where a listing or demand is in its lifecycle.
    ListingStatus {
        Draft = "draft",
        PendingReview = "pending_review",
        Published = "published",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        Traded = "traded",
    }
}

/// Something that moves a listing or demand along its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Submit,
    Approve,
    Reject,
    Withdraw,
    /// The owner changes its content.
    Edit,
    /// A deal for it completed.
    MarkTraded,
    /// The sale that traded it was undone (refunded below its total, or
    /// the contract terminated): the rights are the seller's again.
    Reopen,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Withdraw => "withdraw",
            Self::Edit => "edit",
            Self::MarkTraded => "mark_traded",
            Self::Reopen => "reopen",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a {} item", .transition.as_str(), .from.as_str().replace('_', " "))]
pub struct TransitionError {
    pub from: ListingStatus,
    pub transition: Transition,
}

impl ListingStatus {
    /// The status after `transition`, or why it is not allowed now.
    pub fn apply(self, transition: Transition) -> Result<Self, TransitionError> {
        use ListingStatus::*;
        use Transition::*;
        let next = match (self, transition) {
            (Draft | Rejected, Submit) => PendingReview,
            (PendingReview, Approve) => Published,
            (PendingReview, Reject) => Rejected,
            (Draft | PendingReview | Published | Rejected, Withdraw) => Withdrawn,
            // A change to something public goes back to the officials.
            (Published, Edit) => PendingReview,
            (Draft | PendingReview | Rejected, Edit) => self,
            (Published, MarkTraded) => Traded,
            (Traded, Reopen) => Published,
            _ => {
                return Err(TransitionError { from: self, transition });
            }
        };
        Ok(next)
    }

    /// Whether the public (and anyone not its owner or an official) may see it.
    pub fn is_public(self) -> bool {
        matches!(self, Self::Published | Self::Traded)
    }
}

#[cfg(test)]
mod tests {
    use super::ListingStatus::*;
    use super::Transition::*;
    use super::*;

    #[test]
    fn the_happy_path() {
        let published = Draft.apply(Submit).and_then(|s| s.apply(Approve)).unwrap();
        assert_eq!(published, Published);
        assert_eq!(published.apply(MarkTraded), Ok(Traded));
        assert!(Traded.is_public() && Published.is_public() && !PendingReview.is_public());
    }

    #[test]
    fn rejection_and_resubmission() {
        assert_eq!(PendingReview.apply(Reject), Ok(Rejected));
        assert_eq!(Rejected.apply(Edit), Ok(Rejected));
        assert_eq!(Rejected.apply(Submit), Ok(PendingReview));
    }

    #[test]
    fn editing_a_published_item_sends_it_back_to_review() {
        assert_eq!(Published.apply(Edit), Ok(PendingReview));
        assert_eq!(Draft.apply(Edit), Ok(Draft));
    }

    #[test]
    fn every_other_move_is_refused() {
        let allowed = [
            (Draft, Submit),
            (Rejected, Submit),
            (PendingReview, Approve),
            (PendingReview, Reject),
            (Draft, Withdraw),
            (PendingReview, Withdraw),
            (Published, Withdraw),
            (Rejected, Withdraw),
            (Published, Edit),
            (Draft, Edit),
            (PendingReview, Edit),
            (Rejected, Edit),
            (Published, MarkTraded),
            (Traded, Reopen),
        ];
        for &from in ListingStatus::ALL {
            for transition in [Submit, Approve, Reject, Withdraw, Edit, MarkTraded, Reopen] {
                let result = from.apply(transition);
                assert_eq!(result.is_ok(), allowed.contains(&(from, transition)), "{from:?} {transition:?}");
                if let Err(e) = result {
                    assert_eq!(e.from, from);
                }
            }
        }
        assert_eq!(Withdrawn.apply(Submit).unwrap_err().to_string(), "cannot submit a withdrawn item");
    }

    #[test]
    fn vocabularies_round_trip() {
        for &mode in TradeMode::ALL {
            assert_eq!(TradeMode::from_db(mode.as_str()), Some(mode));
        }
        assert_eq!(Maturity::from_db("pilot").map(Maturity::rank), Some(2));
        assert_eq!(ListingKind::from_db("service"), None);
    }
}
