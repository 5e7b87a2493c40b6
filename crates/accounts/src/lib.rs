//! The accounts service: organisations, their members, officials and
//! admins, sign-in with bearer tokens, and login rate limiting.

mod handlers;
mod password;
mod rate_limit;
mod users;
mod views;

pub use handlers::router;
pub use password::PasswordHasher;
pub use users::{NewUser, create_user};
pub use views::{OrganizationView, UserView};
