//! Vaidya sync server: axum over PostgreSQL, with tenant isolation enforced by forced
//! row-level security and a hash-chained audit trail of every access.
//!
//! The binary (`main.rs`) is a thin command-line front; everything lives here so tests
//! and benchmarks drive the same code.

pub mod admin;
pub mod app;
pub mod audit_chain;
pub mod demo;
pub mod grace;
pub mod http;
pub mod hub;
pub mod migrate;
pub mod openapi;
pub mod pg_cluster;
pub mod routes;
pub mod store;
pub mod sync;
pub mod verify_isolation;

pub use app::{launch, router, App, Db, Settings};
