//! Importers that turn other systems' files into Holdfast inputs.

pub mod open_referral;
