//! The end-to-end harness, reusable by any test that runs a real CLI
//! through Switchyard: the mock upstream and its wire shapes, the CONNECT
//! proxy, the test CA, the CLI runner and one test's [`world::World`].

#![allow(dead_code)] // not every test uses every helper

pub mod cli;
pub mod connect;
pub mod mock;
pub mod tls;
pub mod wire;
pub mod world;
