//! Sync suite: real server, real PostgreSQL, real client partitions (SQLCipher files) and
//! the real OS keyring, with a TCP proxy between clients and server for outages, cut
//! connections and truncated answers. A custom harness (libtest-mimic) so the PostgreSQL
//! cluster is started once for the run.
//!
//! Keyring: run under a D-Bus session with an unlocked Secret Service, e.g.
//! `dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets; cargo test -p vaidya-tests --test sync'`.
//! Without one, every test prints a note and passes, unless `VAIDYA_REQUIRE_KEYRING=1`.

mod bad_input;
mod convergence;
mod duplicates;
mod hubs;
mod round_trip;
mod shared_pc;
mod slow_link;
mod support;

use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};
use vaidya_tests::Harness;

use support::{TestFn, TESTS};

fn main() {
    let args = Arguments::from_args();
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
    drop(harness);
    conclusion.exit();
}
