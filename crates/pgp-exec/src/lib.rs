//! pgp-exec (work in progress).
