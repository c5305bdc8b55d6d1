//! Every routing function as a request ([`pgp_ops::request::Request`]): one serialisable value
//! per operation, next to its function, with the version of its outputs beside the code that
//! makes them. The CLI, pipeline files, task-graph nodes and worker processes all run these,
//! under the names `pgp.routing.<function>`.
//!
//! Functions that exist for both flow methods have one request type with the method as a type
//! parameter ([`D8`] or [`Mfd`]): the fields are the same, the operations (and their versions)
//! are not.

/// D8 routing (one direction per pixel), as a request's type parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct D8;

/// MFD routing (flow split between up to eight neighbours), as a request's type parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mfd;
