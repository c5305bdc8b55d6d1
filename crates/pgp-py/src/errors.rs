//! pgp's errors as Python exceptions (classes defined in `pgp/errors.py`), with pgp's messages.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

/// Which Python exception class an error becomes.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// `pgp.errors.PgpFileNotFoundError` (a `FileNotFoundError`).
    NotFound,
    /// `pgp.errors.PgpValueError` (a `ValueError`): bad input or argument.
    Value,
    /// `pgp.errors.ReclassificationMissingValuesError` (a `PgpValueError`).
    MissingValues,
    /// `pgp.errors.PgpError` (a `RuntimeError`): anything else.
    Runtime,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::NotFound => "PgpFileNotFoundError",
            Kind::Value => "PgpValueError",
            Kind::MissingValues => "ReclassificationMissingValuesError",
            Kind::Runtime => "PgpError",
        }
    }
}

/// The Python exception of `kind` with `message`.
pub(crate) fn raise(kind: Kind, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("pgp.errors")
            .and_then(|m| m.getattr(kind.class_name()))
            .and_then(|cls| cls.call1((message.clone(),)));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

fn core_kind(e: &pgp_core::Error) -> Kind {
    use pgp_core::Error as E;
    match e {
        E::FileNotFound { .. } => Kind::NotFound,
        E::NotARaster { .. }
        | E::NotAVector { .. }
        | E::BandOutOfRange { .. }
        | E::LayerNotFound { .. }
        | E::TypeMismatch { .. }
        | E::UnsupportedDataType { .. }
        | E::WindowOutOfBounds { .. }
        | E::InvalidArgument { .. }
        | E::OutputPath { .. } => Kind::Value,
        _ => Kind::Runtime,
    }
}

fn ops_kind(e: &pgp_ops::Error) -> Kind {
    use pgp_ops::Error as E;
    match e {
        E::Core(c) => core_kind(c),
        E::UnmappedValues { .. } => Kind::MissingValues,
        E::SizeMismatch { .. }
        | E::BlockShape { .. }
        | E::Expression(_)
        | E::ValueDoesNotFit { .. }
        | E::InvalidArgument { .. }
        | E::EmptyIntersection { .. }
        | E::UnknownProjection { .. }
        | E::LengthMismatch { .. }
        | E::UnknownResampleMethod { .. }
        | E::Transform { .. } => Kind::Value,
        E::Exec(pgp_exec::ExecError::InvalidSpec { .. })
        | E::Exec(pgp_exec::ExecError::InvalidWorkerCount { .. }) => Kind::Value,
        _ => Kind::Runtime,
    }
}

/// A pgp-ops error as a Python exception.
pub(crate) fn ops_err(e: pgp_ops::Error) -> PyErr {
    raise(ops_kind(&e), e.to_string())
}

/// A pgp-core error as a Python exception.
pub(crate) fn core_err(e: pgp_core::Error) -> PyErr {
    raise(core_kind(&e), e.to_string())
}

/// A pgp-exec error as a Python exception.
pub(crate) fn exec_err(e: pgp_exec::ExecError) -> PyErr {
    ops_err(pgp_ops::Error::Exec(e))
}

/// A pgp-routing error as a Python exception.
pub(crate) fn routing_err(e: pgp_routing::Error) -> PyErr {
    use pgp_routing::Error as E;
    match e {
        E::Core(c) => core_err(c),
        E::Exec(x) => exec_err(x),
        other => {
            let kind = if matches!(other, E::Invalid { .. }) {
                Kind::Value
            } else {
                Kind::Runtime
            };
            raise(kind, other.to_string())
        }
    }
}

/// The first Python exception raised inside a callback that ran on a worker thread, kept so the
/// call re-raises it as it was (type, message, traceback) instead of pgp's wrapper error.
#[derive(Clone, Default)]
pub(crate) struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    /// Keeps `err` unless an earlier one is kept; returns the text pgp's error carries.
    pub(crate) fn keep(&self, err: PyErr) -> String {
        let text = err.to_string();
        let mut slot = self.0.lock();
        if slot.is_none() {
            *slot = Some(err);
        }
        text
    }

    /// The kept exception, if any, else `fallback`.
    pub(crate) fn or(&self, fallback: PyErr) -> PyErr {
        self.0.lock().take().unwrap_or(fallback)
    }

    /// True when an exception is kept.
    pub(crate) fn is_set(&self) -> bool {
        self.0.lock().is_some()
    }

    /// True when a callback raised `KeyboardInterrupt`.
    #[allow(dead_code)]
    pub(crate) fn interrupted(&self) -> bool {
        Python::attach(|py| {
            self.0
                .lock()
                .as_ref()
                .is_some_and(|e| e.is_instance_of::<PyKeyboardInterrupt>(py))
        })
    }
}
