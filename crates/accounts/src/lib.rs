//! The accounts service: organisations, their members, officials and
//! admins, sign-in with bearer tokens and a second factor, login rate
//! limiting, a user's own sessions and password, and the audit trail for
//! auditors.

mod audit_trail;
mod handlers;
mod login;
mod me;
mod members;
mod password;
mod rate_limit;
mod reset;
mod second_factor;
mod security_admin;
mod totp;
mod users;
mod views;

pub use audit_trail::{
    AuditQuery, AuditRecordView, csv_download as audit_csv_download, export_csv as export_audit_csv, page as audit_page,
};
pub use handlers::{
    NewOrganizationRequest, NewUserRequest, RegistrableKind, RegistrationRequest, add_to_organization, members,
    organization, register, router, sign_out,
};
pub use login::{Client, LoginRequest, SecondFactorLoginRequest, SignIn, sign_in, sign_in_with_code};
pub use me::{PasswordChangeRequest, SessionView, change as change_password, end as end_session, sessions};
pub use members::{MemberChange, change as change_member, remove as remove_member};
pub use password::PasswordHasher;
pub use reset::{
    PasswordResetConfirmation, confirm as confirm_password_reset, request as request_password_reset,
    token_of as password_reset_token,
};
pub use second_factor::{
    CodeRequest, Enrolment, RecoveryCodes, SecondFactorStatus, confirm as confirm_second_factor,
    enrol as enrol_second_factor, remove as remove_second_factor, renew_recovery_codes, reset as reset_second_factor,
    status as second_factor_status,
};
pub use security_admin::{UnlockResponse, set_role, unlock};
pub use users::{NewUser, create_user, disable_user, staff};
pub use views::{LoginResponse, OrganizationView, RegistrationResponse, UserView};
