#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| techtrade_domain::fuzzing::patent_numbers(data));
