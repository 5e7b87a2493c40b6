//! The accounts service: organisations, their members, officials and
//! admins, sign-in with bearer tokens, login rate limiting, and a user's
//! own sessions and password, and the audit trail for auditors.

mod audit_trail;
mod handlers;
mod me;
mod members;
mod password;
mod rate_limit;
mod reset;
mod security_admin;
mod users;
mod views;

pub use audit_trail::{
    AuditQuery, AuditRecordView, csv_download as audit_csv_download, export_csv as export_audit_csv, page as audit_page,
};
pub use handlers::{
    Client, LoginRequest, NewOrganizationRequest, NewUserRequest, RegistrableKind, RegistrationRequest,
    add_to_organization, members, organization, register, router, sign_in, sign_out,
};
pub use me::{PasswordChangeRequest, SessionView, change as change_password, end as end_session, sessions};
pub use members::{MemberChange, change as change_member, remove as remove_member};
pub use password::PasswordHasher;
pub use reset::{
    PasswordResetConfirmation, confirm as confirm_password_reset, request as request_password_reset,
    token_of as password_reset_token,
};
pub use security_admin::{UnlockResponse, set_role, unlock};
pub use users::{NewUser, create_user, disable_user, staff};
pub use views::{LoginResponse, OrganizationView, RegistrationResponse, UserView};
