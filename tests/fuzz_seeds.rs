//! Replays the fuzz target's seed corpus (fuzz/seeds/decode_message) through the same oracle.

use std::fs;
use std::path::Path;

#[test]
fn seed_corpus_passes_the_fuzz_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode_message");
    let mut count = 0;
    for entry in fs::read_dir(&dir).expect("seed corpus directory exists") {
        let path = entry.expect("readable directory entry").path();
        let input = fs::read(&path).expect("readable seed");
        podroute::bgp::fuzzing::check_message(&input);
        count += 1;
    }
    assert!(count >= 10, "only {count} seeds in {}", dir.display());
}
