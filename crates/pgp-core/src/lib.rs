//! pgp-core (work in progress).
