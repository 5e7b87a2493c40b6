//! What the accounts API returns.

use serde::Serialize;
use techtrade_db::accounts::{Organization, User};
use utoipa::ToSchema;

fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    /// enterprise | university | institute | agency | authority
    pub kind: String,
    /// 统一社会信用代码
    pub credit_code: String,
    /// GB/T 2260 region code
    pub region_code: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            name: o.name,
            kind: o.kind,
            credit_code: o.credit_code,
            region_code: o.region_code,
            created_at: utc(o.created_at),
            version: o.version,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// member | official | admin
    pub role: String,
    pub organization_id: Option<String>,
    /// `admin` or `member` of the organisation (members only).
    pub organization_role: Option<String>,
    pub locale: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When an administrator disabled the account: it cannot sign in, and
    /// its sessions were revoked then.
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            organization_role: (u.role == "member" && u.organization_id.is_some()).then(|| u.organization_role.clone()),
            role: u.role,
            organization_id: u.organization_id,
            locale: u.locale,
            created_at: utc(u.created_at),
            disabled_at: u.disabled_at.map(utc),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationResponse {
    pub organization: OrganizationView,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub user: UserView,
    /// What the session must do before anything else, as the codes every
    /// other route then answers 403 with: `password_change_required` (a
    /// password someone else chose, or an expired staff password), then
    /// `second_factor_enrolment_required` (staff, where required). Empty
    /// for a session free to work.
    pub required_first: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    #[serde(flatten)]
    pub user: UserView,
    pub organization: Option<OrganizationView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersResponse {
    pub items: Vec<UserView>,
}
