//! Handles to tasks: wait for them, read their status and result.

use crate::error::TaskError;
use crate::sched::Shared;
use crate::task::{TaskRef, TaskStatus};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;

/// Marker result type for tasks added by name, whose return type is not known statically; use
/// [`TaskHandle::result_bytes`].
#[derive(Debug)]
pub enum Opaque {}

/// A handle to a task: a future of its result. Cloning is cheap. Waiting on a handle starts the
/// graph if it has not started yet.
pub struct TaskHandle<T> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) task: TaskRef,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        TaskHandle {
            shared: Arc::clone(&self.shared),
            task: self.task,
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("task", &self.name())
            .field("status", &self.status())
            .finish()
    }
}

impl<T> AsRef<TaskRef> for TaskHandle<T> {
    fn as_ref(&self) -> &TaskRef {
        &self.task
    }
}

impl<T> TaskHandle<T> {
    /// The task's name.
    pub fn name(&self) -> String {
        self.shared.task_name(self.task.id)
    }

    /// The current status, without waiting.
    pub fn status(&self) -> TaskStatus {
        self.shared.status(self.task.id)
    }

    /// Waits until the task is done; `Ok` if it completed or was skipped.
    pub fn join(&self) -> Result<(), TaskError> {
        self.shared.wait_task(self.task.id).map(|_| ())
    }

    /// Waits and returns the task's serialised (bincode) return value.
    pub fn result_bytes(&self) -> Result<Vec<u8>, TaskError> {
        self.shared.wait_task(self.task.id)
    }
}

impl<T: DeserializeOwned> TaskHandle<T> {
    /// Waits and returns the task's return value (for skipped tasks, the recorded one).
    pub fn result(&self) -> Result<T, TaskError> {
        let bytes = self.result_bytes()?;
        bincode::deserialize(&bytes).map_err(|e| TaskError::Result(e.to_string()))
    }
}
