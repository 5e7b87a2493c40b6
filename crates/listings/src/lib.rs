//! The listings service: what enterprises, universities and institutes
//! offer (patents and technology achievements), what buyers ask for
//! (demands), and the officials' review before anything is public.

pub mod access;
mod demand;
mod handlers;
mod items;
mod listing;
mod reads;
pub mod requests;
pub mod review_context;
pub mod seed;
pub mod service;
pub mod views;

pub use handlers::{Decision, ListQuery, ReviewRequest, router};
pub use items::{mark_listing_traded, reopen_traded_listing};
