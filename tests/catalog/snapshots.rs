use httpsim::report::markdown;
use httpsim::scenario;
use httpsim::trace::TraceText;

use crate::{is_pending, Result};

/// Records kept at each end of a snapshotted trace; the middle of a long trace is summarised by
/// its record count (the trace hash in the report pins every record).
const KEEP: usize = 150;

/// The trace as text, long traces cut in the middle.
fn normalised_trace(records: &[httpsim::Record]) -> String {
    if records.len() <= 2 * KEEP {
        return TraceText(records).to_string();
    }
    format!(
        "{}... {} records omitted ...\n{}",
        TraceText(&records[..KEEP]),
        records.len() - 2 * KEEP,
        TraceText(&records[records.len() - KEEP..])
    )
}

#[test]
fn every_runnable_catalog_scenario_keeps_its_trace_and_report() -> Result {
    insta::glob!("../../scenarios", "*.toml", |path| {
        if is_pending(path) {
            return;
        }
        let rel = std::path::Path::new("scenarios").join(path.file_name().unwrap());
        let s = scenario::load(&rel).unwrap_or_else(|e| panic!("{e}"));
        let o = scenario::run(&s, s.default_seed()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            o.passed,
            "{}: the catalog's expectations hold\n{:#?}",
            s.name(),
            o.expectations
        );
        let mut settings = insta::Settings::clone_current();
        settings.set_sort_maps(true);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(format!(
            "{} at seed {}: {}",
            s.name(),
            o.seed,
            s.file
                .description
                .as_deref()
                .unwrap_or("")
                .replace('\n', " ")
        ));
        settings.bind(|| {
            insta::assert_snapshot!("trace", normalised_trace(&o.records));
            insta::assert_snapshot!("report", markdown::report(&s, &o));
        });
    });
    Ok(())
}
