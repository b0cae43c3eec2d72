//! Server test suite: real PostgreSQL (a private cluster for this run), the real server on
//! loopback, driven over HTTP and as SQL under the app role. A custom harness
//! (libtest-mimic) so the cluster is started once and stopped and removed at the end.

mod act_times;
mod allergies;
mod api_fuzz;
mod audit;
mod auth;
mod authorship;
mod cancelled_numbers;
mod catalogue;
mod clinical_store;
mod credit_notes;
mod desktop_updates;
mod domain;
mod duplicates;
mod hub_replica;
mod hubs;
mod input;
mod invoice_series;
mod isolation;
mod lists;
mod policies;
mod pool;
mod pooler;
mod registration;
mod support;
mod sync;
mod transient;

use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};
use vaidya_tests::Harness;

use support::{TestFn, TESTS};

fn main() {
    let args = Arguments::from_args();
    // Server errors (the full chain behind a generic 500) go to stderr; RUST_LOG overrides.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let harness: Arc<Harness> = runtime
        .block_on(Harness::start())
        .expect("starting the PostgreSQL test cluster");
    let trials: Vec<Trial> = TESTS
        .iter()
        .map(|&(name, test): &(&str, TestFn)| {
            let h = harness.clone();
            Trial::test(name, move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(test(h)).map_err(|e| format!("{e:#}").into())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(runtime);
    // The trials are gone, so this is the last handle: stop and remove the cluster.
    drop(harness);
    conclusion.exit();
}
