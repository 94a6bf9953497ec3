//! The proxy data path (being written).
