//! Sync suite: real server, real PostgreSQL, real client partitions (filled in by the sync work).

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, Vec::new()).exit();
}
