//! What a user may do on the platform.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts for an organisation: lists, searches, negotiates, claims.
    Member,
    /// Reviews listings, registers contracts, reviews subsidy claims.
    Official,
    /// Creates officials and authorities, manages subsidy programs.
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Member, Self::Official, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Official => "official",
            Self::Admin => "admin",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// Officials' work (review queues, registration) is open to admins too.
    pub fn is_official(self) -> bool {
        matches!(self, Self::Official | Self::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ranks() {
        for role in Role::ALL {
            assert_eq!(Role::from_db(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_db("root"), None);
        assert!(Role::Admin.is_official() && Role::Official.is_official() && !Role::Member.is_official());
    }
}
