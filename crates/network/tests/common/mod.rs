//! Helpers shared by the network integration tests.

pub mod ganache;
