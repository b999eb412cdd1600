//! The number of tasks in the app being built. The builder (`cargo xtask dist`) sets
//! `BULKHEAD_NUM_TASKS` for every task build, so this crate only builds inside an image.
#![no_std]

pub const NUM_TASKS: usize = parse(env!("BULKHEAD_NUM_TASKS").as_bytes());

const fn parse(digits: &[u8]) -> usize {
    assert!(!digits.is_empty(), "BULKHEAD_NUM_TASKS is empty");
    let mut n = 0;
    let mut i = 0;
    while i < digits.len() {
        assert!(
            digits[i].is_ascii_digit(),
            "BULKHEAD_NUM_TASKS is not a number"
        );
        n = n * 10 + (digits[i] - b'0') as usize;
        i += 1;
    }
    n
}
