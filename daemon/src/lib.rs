//! The Switchyard daemon crate: everything except the dashboard's screens.
//!
//! - [`daemon`] runs the daemon: lock, store, supervisors, socket server.
//! - [`client`] is how every command and the dashboard talk to it.
//! - [`protocol`] holds every type that crosses a socket, and the shared
//!   state reducer.
//! - [`worker`] is the proxy worker process; [`proxy`] its data path.
//! - [`lifecycle`] starts, stops and inspects daemons from the command line.
//! - [`translate`] turns requests and responses of one API format into another.
//!
//! The binary in `src/` is a thin shell over this crate. See ARCHITECTURE.md
//! for the code map and the invariants.

pub mod apps;
pub mod client;
pub mod core;
pub mod daemon;
pub mod lifecycle;
pub mod lock;
pub mod log_tap;
pub mod logging;
pub mod paths;
pub mod platform;
pub mod presets;
pub mod process_info;
pub mod protocol;
pub mod proxy;
pub mod server;
pub mod store;
pub mod supervisor;
pub mod takeover;
pub mod text;
pub mod translate;
pub mod usage;
pub mod worker;
