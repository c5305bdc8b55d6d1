//! pgp-ops (work in progress).
