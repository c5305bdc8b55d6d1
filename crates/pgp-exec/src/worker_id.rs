//! Where a task ran: a thread of this program, a worker process, or a pilot in a Slurm job.
//!
//! Pools note it on the task's handle when the task ends ([`Handle::wait_with_worker`]), so a
//! caller (the graph's events, a run report) can say which worker ran what, and on a cluster
//! which job and node, to match a result with the job's log.
//!
//! [`Handle::wait_with_worker`]: crate::Handle::wait_with_worker

use serde::Serialize;

/// The worker a task ran on (for a task retried after its worker died: the last one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WorkerId {
    /// A thread of this process (synchronous and thread-pool executors, and closures).
    Thread {
        /// The thread's name (`pgp-graph-task-3-1`), or `thread <id>` for an unnamed one.
        name: String,
    },
    /// A worker process of a [`ProcessPool`](crate::ProcessPool) on this machine.
    Process {
        /// The worker's slot in the pool (0-based; a replacement takes the slot of the dead).
        index: usize,
        /// Its process id.
        pid: u32,
    },
    /// A pilot worker inside a Slurm job of a [`SlurmPool`](crate::SlurmPool).
    Slurm {
        /// The Slurm job id.
        job_id: u64,
        /// The node the job ran on, as Slurm names it.
        node: String,
        /// The pilot's process id on that node.
        pid: u32,
    },
}

impl WorkerId {
    /// The thread this is called on.
    pub fn current_thread() -> WorkerId {
        let thread = std::thread::current();
        let name = match thread.name() {
            Some(name) => name.to_string(),
            None => format!("thread {:?}", thread.id()),
        };
        WorkerId::Thread { name }
    }
}

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerId::Thread { name } => write!(f, "thread {name}"),
            WorkerId::Process { index, pid } => write!(f, "process worker {index} (pid {pid})"),
            WorkerId::Slurm { job_id, node, pid } => {
                write!(f, "Slurm job {job_id} on {node} (pid {pid})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_print_and_serialise_with_their_identity() {
        let slurm = WorkerId::Slurm {
            job_id: 42,
            node: "sh03-01n07".into(),
            pid: 913,
        };
        assert_eq!(slurm.to_string(), "Slurm job 42 on sh03-01n07 (pid 913)");
        assert_eq!(
            serde_json::to_value(&slurm).unwrap(),
            serde_json::json!({"kind": "slurm", "job_id": 42, "node": "sh03-01n07", "pid": 913})
        );
        let process = WorkerId::Process { index: 1, pid: 7 };
        assert_eq!(process.to_string(), "process worker 1 (pid 7)");
        let here = std::thread::Builder::new()
            .name("named-for-the-test".into())
            .spawn(WorkerId::current_thread)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(here.to_string(), "thread named-for-the-test");
    }
}
