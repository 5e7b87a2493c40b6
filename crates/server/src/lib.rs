//! The `techtrade` binary's library half: configuration, the composed
//! application and the command line, so that tests build exactly the
//! application the binary serves.

pub mod app;
mod audit;
mod backup;
pub mod cli;
pub mod config;
mod demo;
mod headers;
mod health;
mod notify;
mod policy;
mod progress;
pub mod telemetry;
pub mod workers;
