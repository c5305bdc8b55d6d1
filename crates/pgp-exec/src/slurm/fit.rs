//! Which pilot may take a task that says how long it runs (its walltime need).
//!
//! A pilot's job is killed by Slurm at its start plus the pool's `time=`: a task sent to a
//! pilot with less time left than the task needs is killed with it and runs again elsewhere,
//! wasting the time spent. So a pilot takes a task only if its walltime left, less a safety
//! margin (the time between the job starting and the pilot connecting, clock steps, the
//! pilot's own start-up), is at least the task's need.

use std::time::Duration;

/// The margin kept free at the end of every pilot's walltime: a twentieth of it, at most 30 s.
pub(crate) fn margin(limit: Duration) -> Duration {
    (limit / 20).min(Duration::from_secs(30))
}

/// The walltime a pilot connected `age` ago may still promise to a task.
pub(crate) fn usable_left(limit: Duration, age: Duration) -> Duration {
    limit.saturating_sub(age).saturating_sub(margin(limit))
}

/// Whether a pilot connected `age` ago, in jobs of walltime `limit`, may take a task needing
/// `need`.
pub(crate) fn fits(limit: Duration, age: Duration, need: Duration) -> bool {
    usable_left(limit, age) >= need
}

/// Why no pilot of this pool could ever run a task needing `need`, if so: even a fresh one
/// has too little time.
pub(crate) fn refusal(limit: Duration, need: Duration) -> Option<String> {
    (!fits(limit, Duration::ZERO, need)).then(|| {
        format!(
            "the task needs a walltime of {}, more than a worker of this pool can give: its \
             jobs have time={} (less a safety margin of {}); raise the executor's `time` or \
             lower the task's walltime",
            show(need),
            show(limit),
            show(margin(limit))
        )
    })
}

/// What a pilot does with the task it just took from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Run it.
    Run,
    /// Put it back for a pilot with more time left, and look at the next one.
    PassOn,
    /// Put it back and retire: a whole queue's worth of tasks in a row did not fit, so this
    /// pilot only holds a place a fresh pilot (with its full walltime) could use.
    Retire,
}

/// Decides for a pilot with `left` usable walltime and a task needing `need` (`None`: no need
/// stated), after `passed` tasks in a row it passed on, with `queued` tasks waiting besides this
/// one.
pub(crate) fn take(left: Duration, need: Option<Duration>, passed: usize, queued: usize) -> Take {
    match need {
        Some(need) if need > left => {
            if passed >= queued {
                Take::Retire
            } else {
                Take::PassOn
            }
        }
        _ => Take::Run,
    }
}

/// A duration as Slurm writes one, `HH:MM:SS` (`D-HH:MM:SS` from a day on).
pub(crate) fn show(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}-{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_two_minute_pool_keeps_six_seconds() {
        assert_eq!(margin(2 * MIN), Duration::from_secs(6));
        assert_eq!(margin(120 * MIN), Duration::from_secs(30));
        // 110 s fits a fresh pilot (114 s usable), not one connected 5 s ago (109 s).
        let need = Duration::from_secs(110);
        assert!(fits(2 * MIN, Duration::ZERO, need));
        assert!(!fits(2 * MIN, Duration::from_secs(5), need));
        assert!(refusal(2 * MIN, need).is_none());
        let refused = refusal(2 * MIN, 3 * MIN).unwrap();
        assert!(refused.contains("00:03:00"), "{refused}");
        assert!(refused.contains("time=00:02:00"), "{refused}");
        assert_eq!(show(Duration::from_secs(90_061)), "1-01:01:01");
    }

    #[test]
    fn a_pilot_passes_on_then_retires() {
        let left = 10 * MIN;
        assert_eq!(take(left, None, 5, 0), Take::Run);
        assert_eq!(take(left, Some(left), 5, 0), Take::Run);
        assert_eq!(take(left, Some(11 * MIN), 0, 3), Take::PassOn);
        assert_eq!(take(left, Some(11 * MIN), 3, 3), Take::Retire);
        assert_eq!(take(left, Some(11 * MIN), 0, 0), Take::Retire);
    }

    proptest! {
        /// A pilot is given a task only if its job outlives the task by the margin.
        #[test]
        fn a_task_given_to_a_pilot_ends_before_its_job(
            limit_s in 1u64..(3 * 86400), age_s in 0u64..(4 * 86400), need_s in 0u64..(4 * 86400),
        ) {
            let (limit, age, need) =
                (Duration::from_secs(limit_s), Duration::from_secs(age_s), Duration::from_secs(need_s));
            let run = take(usable_left(limit, age), Some(need), 0, 1) == Take::Run;
            prop_assert_eq!(run, age + need + margin(limit) <= limit);
            prop_assert_eq!(run, fits(limit, age, need));
        }

        /// Older pilots fit fewer tasks; what a fresh pilot cannot fit is refused up front.
        #[test]
        fn older_pilots_fit_less_and_refusal_is_exact(
            limit_s in 1u64..86400, a in 0u64..86400, b in 0u64..86400, need_s in 0u64..86400,
        ) {
            let limit = Duration::from_secs(limit_s);
            let need = Duration::from_secs(need_s);
            let (young, old) = (Duration::from_secs(a.min(b)), Duration::from_secs(a.max(b)));
            prop_assert!(!fits(limit, old, need) || fits(limit, young, need));
            prop_assert_eq!(refusal(limit, need).is_none(), fits(limit, Duration::ZERO, need));
        }

        /// However a pilot's passes go, it retires only once it has seen the whole queue.
        #[test]
        fn retiring_needs_a_full_pass(passed in 0usize..50, queued in 0usize..50) {
            let decision = take(Duration::ZERO, Some(Duration::from_secs(1)), passed, queued);
            prop_assert_eq!(decision == Take::Retire, passed >= queued);
        }
    }
}
