//! Golden and property tests of the translations.
