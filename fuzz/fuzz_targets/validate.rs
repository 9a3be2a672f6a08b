//! Fuzzes block-message decoding and validation: the first input byte picks the topic version
//! (`b % 4`) and whether the harness signs the rest as the sequencer (`b & 4`); see
//! [`opmesh_fuzz::run`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `run` asserts the validator's invariants itself; a panic is a finding.
    let _ = opmesh_fuzz::run(data);
});
