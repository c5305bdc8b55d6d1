//! Shared pieces of the integration tests.
#![allow(dead_code)]

pub mod ops;
pub mod runner;
pub mod slurm;
