//! The measurement settings of the compression and encryption suites, one place for both:
//! `FLATSTREAM_BENCH_QUICK=1` shortens them (as `cargo xtask bench --quick` sets it).

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// A benchmark group named `name`, measured briefly under `FLATSTREAM_BENCH_QUICK`.
pub(crate) fn configure<'a>(
    criterion: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(name);
    if std::env::var_os("FLATSTREAM_BENCH_QUICK").is_some() {
        group
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(600))
            .sample_size(10);
    } else {
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .sample_size(20);
    }
    group
}
