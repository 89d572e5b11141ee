use std::path::PathBuf;

use httpsim::scenario;

use crate::{Result, PENDING};

#[test]
fn scenarios_needing_unbuilt_features_are_refused_and_listed() -> Result {
    let files = scenario::discover(&[PathBuf::from("scenarios")])?;
    assert!(files.len() >= 12, "the catalog holds at least 12 scenarios");
    let mut refused = Vec::new();
    for f in &files {
        if let Err(e) = scenario::load(f) {
            assert!(e.is_unsupported(), "{e}");
            assert!(e.to_string().contains("not supported yet"), "{e}");
            assert!(e.position.is_some(), "the refusal points at the key: {e}");
            refused.push(f.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    let listed: Vec<String> = PENDING.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        refused, listed,
        "the scenarios this build refuses must be exactly PENDING; move files that now run off it"
    );
    Ok(())
}
