#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| techtrade_domain::fuzzing::credit_code(data));
