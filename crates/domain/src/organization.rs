//! Kinds of organisation on the market.

use serde::{Deserialize, Serialize};

/// What an organisation is. `authority` is a government body (科技厅, a
/// registration office); only admins create those, for officials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    Enterprise,
    University,
    Institute,
    Agency,
    Authority,
}

impl OrganizationKind {
    pub const ALL: [Self; 5] = [Self::Enterprise, Self::University, Self::Institute, Self::Agency, Self::Authority];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::University => "university",
            Self::Institute => "institute",
            Self::Agency => "agency",
            Self::Authority => "authority",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// Whether anyone may register an organisation of this kind.
    pub fn is_self_registered(self) -> bool {
        self != Self::Authority
    }
}

vocabulary! {
    /// A member's role in its organisation.
    OrganizationRole {
        /// Adds, disables and removes members, and hands the role on.
        Admin = "admin",
        Member = "member",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_storage() {
        for kind in OrganizationKind::ALL {
            assert_eq!(OrganizationKind::from_db(kind.as_str()), Some(kind));
        }
        assert_eq!(OrganizationKind::from_db("bank"), None);
        assert!(!OrganizationKind::Authority.is_self_registered());
    }
}
