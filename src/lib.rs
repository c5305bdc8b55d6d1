//! pgp facade (work in progress).
pub use pgp_core as core;
pub use pgp_exec as exec;
pub use pgp_graph as graph;
pub use pgp_ops as ops;
