//! The end-to-end tests over HTTP, each on SQLite and PostgreSQL, as one
//! test binary: each binary links the whole server (about 280 MB in a debug
//! build), so fifteen of them cost fifteen links and gigabytes of disk for
//! nothing. Run one area with a filter: `cargo test -p techtrade-tests
//! --test http site::`.

mod accounts;
mod audit;
mod authorization;
mod console;
mod deals;
mod integrity;
mod limits;
mod listings;
mod matching;
mod members;
mod model;
mod money_paths;
mod notify;
mod passwords;
mod platform;
mod public_views;
mod registration_deals;
mod registration_records;
mod registrations;
mod regressions;
mod search;
mod second_factor;
mod sessions;
mod site;
mod statistics;
mod subsidy;
