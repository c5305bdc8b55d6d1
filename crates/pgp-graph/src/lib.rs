//! pgp-graph (work in progress).
