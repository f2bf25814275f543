//! Seeded test data (being written).
