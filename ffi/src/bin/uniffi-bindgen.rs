//! uniffi's binding generator, built from this crate so its version always matches.

fn main() {
    uniffi::uniffi_bindgen_main()
}
