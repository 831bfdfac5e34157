//! The harnesses on stable without libFuzzer: the seed corpus is current, every corpus file runs
//! clean, and the per-action table is complete.

use std::fs;
use std::path::{Path, PathBuf};

use darktrace_connector::actions::{actions, invoke};
use darktrace_connector::{WireRequest, WireResponse};
use darktrace_connector_fuzz::{Recorder, TARGETS, connection, seeds, valid_input};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn the_committed_seeds_and_dictionary_are_what_the_generator_writes() {
    let update = std::env::var_os("UPDATE_SEEDS").is_some();
    let mut files: Vec<(PathBuf, Vec<u8>)> =
        seeds::all().into_iter().map(|s| (fuzz_dir().join("corpus").join(s.target).join(s.name), s.bytes)).collect();
    for (target, text) in seeds::dictionaries() {
        files.push((fuzz_dir().join("dict").join(format!("{target}.dict")), text.into_bytes()));
    }
    for (path, bytes) in files {
        if update {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &bytes).unwrap();
        } else {
            let committed =
                fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run UPDATE_SEEDS=1 cargo test", path.display()));
            assert!(committed == bytes, "{} is stale; run UPDATE_SEEDS=1 cargo test", path.display());
        }
    }
}

#[test]
fn every_corpus_file_runs_clean_through_its_target() {
    let mut ran = 0;
    for (target, run) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            // The last path printed names the file when a run panics.
            eprintln!("{}", path.display());
            run(&bytes);
            ran += 1;
        }
    }
    assert!(ran >= 70, "only {ran} corpus files");
}

#[test]
fn every_action_has_a_valid_input_that_reaches_the_appliance() {
    for action in actions() {
        let transport =
            Recorder::new(|_: &WireRequest| WireResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() });
        let result = invoke(Ok(connection()), &transport, action.name, valid_input(action.name));
        if let Err(e) = &result {
            assert_ne!(e.case(), "invalid-input", "{}: {e}", action.name);
        }
        assert!(!transport.into_sent().is_empty(), "{}: nothing was sent", action.name);
    }
}

#[test]
fn every_target_has_a_libfuzzer_entry_point_and_a_seed_directory() {
    let mut entry_points: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    entry_points.sort();
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(entry_points, names);
    for name in names {
        assert!(fuzz_dir().join("corpus").join(name).is_dir(), "no seeds for {name}");
    }
}
