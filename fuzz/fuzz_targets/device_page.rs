//! A device's handling of a pull page from a hostile relay (`open_page`, then
//! `Store::apply_page`): see `fuzz/src/device_page.rs`.
#![no_main]

#[path = "../src/device_page.rs"]
mod device_page;

libfuzzer_sys::fuzz_target!(|page: device_page::Page| device_page::check_device_page(&page));
