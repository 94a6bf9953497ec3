//! The Switchyard daemon crate: everything except the dashboard's screens.
//!
//! The binary in `src/` is a thin shell over this crate. See ARCHITECTURE.md for
//! the code map and the invariants.

pub mod apps;
pub mod proxy;
