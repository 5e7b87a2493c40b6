//! What a user may do on the platform.
//!
//! Staff duties are separated (三员分立, 等保2.0 level 3): the system
//! administrator runs users and configuration, the security administrator
//! roles and lock-outs, the auditor reads the audit log. One account holds
//! one role, so nobody holds two of these; and each manages only the
//! accounts of its own side ([`Role::manages`]), so the system
//! administrator cannot make an auditor (nor silence one).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts for an organisation: lists, searches, negotiates, claims.
    Member,
    /// Reviews listings, registers contracts, reviews subsidy claims.
    Official,
    /// The system administrator: creates members, officials and other
    /// system administrators, disables them, manages subsidy programs.
    /// Written `admin` (its name before the duties were separated).
    #[serde(alias = "sysadmin")]
    Admin,
    /// The security administrator: creates security administrators and
    /// auditors, unlocks locked accounts, changes staff roles.
    #[serde(rename = "secadmin")]
    SecurityAdmin,
    /// Reads and exports the audit log, and nothing else.
    Auditor,
}

impl Role {
    pub const ALL: [Self; 5] = [Self::Member, Self::Official, Self::Admin, Self::SecurityAdmin, Self::Auditor];
    /// Every role but members: the accounts `techtrade admin create-user`
    /// and `POST /api/v1/admin/users` make.
    pub const STAFF: [Self; 4] = [Self::Official, Self::Admin, Self::SecurityAdmin, Self::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Official => "official",
            Self::Admin => "admin",
            Self::SecurityAdmin => "secadmin",
            Self::Auditor => "auditor",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// A role as a person writes it: its stored name, or `sysadmin`.
    pub fn parse(value: &str) -> Option<Self> {
        if value == "sysadmin" { Some(Self::Admin) } else { Self::from_db(value) }
    }

    /// Officials' work (review queues, registration) is open to system
    /// administrators too.
    pub fn is_official(self) -> bool {
        matches!(self, Self::Official | Self::Admin)
    }

    pub fn is_staff(self) -> bool {
        self != Self::Member
    }

    /// The security administrator and the auditor: staff of no organisation.
    pub fn is_security_side(self) -> bool {
        matches!(self, Self::SecurityAdmin | Self::Auditor)
    }

    /// Whether this role creates, disables and re-roles accounts of
    /// `target`'s role: the system administrator the members and the
    /// operational staff, the security administrator the security staff.
    pub fn manages(self, target: Self) -> bool {
        match self {
            Self::Admin => matches!(target, Self::Member | Self::Official | Self::Admin),
            Self::SecurityAdmin => target.is_security_side(),
            Self::Member | Self::Official | Self::Auditor => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ranks() {
        for role in Role::ALL {
            assert_eq!(Role::from_db(role.as_str()), Some(role));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_db("root"), None);
        assert_eq!(Role::parse("sysadmin"), Some(Role::Admin));
        assert_eq!(serde_json::from_str::<Role>("\"sysadmin\"").unwrap(), Role::Admin);
        assert_eq!(serde_json::to_string(&Role::SecurityAdmin).unwrap(), "\"secadmin\"");
        assert!(Role::Admin.is_official() && Role::Official.is_official() && !Role::Member.is_official());
        assert!(!Role::SecurityAdmin.is_official() && !Role::Auditor.is_official());
    }

    #[test]
    fn duties_are_separated() {
        // Nobody manages their own overseers, and the auditor manages nobody.
        assert!(!Role::Admin.manages(Role::Auditor) && !Role::Admin.manages(Role::SecurityAdmin));
        assert!(!Role::SecurityAdmin.manages(Role::Admin) && !Role::SecurityAdmin.manages(Role::Official));
        for target in Role::ALL {
            assert!(!Role::Auditor.manages(target) && !Role::Official.manages(target) && !Role::Member.manages(target));
            // Every account has exactly one side that manages it.
            assert!(Role::Admin.manages(target) != Role::SecurityAdmin.manages(target), "{target:?}");
        }
    }
}
