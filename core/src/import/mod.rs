//! Importers that turn other systems' files into Holdfast inputs.

// TEMP pub mod open_referral;
