//! The deadline clock: it starts when the requested side acknowledges a request, stops while the
//! request waits on the requesting side or is postponed, and moves the due date out by the time stopped.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::request::{Priority, State};

/// How long the requested side has to answer, per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub normal: Duration,
    pub urgent: Duration,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self { normal: Duration::days(90), urgent: Duration::hours(72) }
    }
}

impl SlaPolicy {
    pub fn for_priority(&self, priority: Priority) -> Duration {
        match priority {
            Priority::Normal => self.normal,
            Priority::Urgent => self.urgent,
        }
    }
}

/// A request's deadline clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// When the answer is due; none until the request is acknowledged.
    pub due_at: Option<Timestamp>,
    /// When the clock stopped, while it is stopped.
    pub stopped_at: Option<Timestamp>,
}

impl Clock {
    /// Starts the clock at acknowledgement.
    pub fn started(now: Timestamp, sla: Duration) -> Self {
        Self { due_at: Some(now + sla), stopped_at: None }
    }

    pub fn is_running(&self) -> bool {
        self.due_at.is_some() && self.stopped_at.is_none()
    }

    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.is_running() && self.due_at.is_some_and(|due| now > due)
    }

    /// The clock after the request moves into `to` at `now`: it stops on entering a waiting state and,
    /// on leaving one, the due date moves out by the time stopped. Time never runs backwards: an
    /// instant before the stop (a replica's clock behind another's) counts as no time at all.
    pub fn after_entering(self, to: State, now: Timestamp) -> Self {
        match (self.stopped_at, to.stops_clock()) {
            (None, true) if self.due_at.is_some() => Self { stopped_at: Some(now), ..self },
            (Some(stopped), false) => {
                let paused = (now - stopped).max(Duration::zero());
                Self { due_at: self.due_at.map(|due| due + paused), stopped_at: None }
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_default_sla_is_72_hours_urgent_and_90_days_normal() {
        let sla = SlaPolicy::default();
        assert_eq!(sla.for_priority(Priority::Urgent), Duration::hours(72));
        assert_eq!(sla.for_priority(Priority::Normal), Duration::days(90));
    }

    #[test]
    fn a_stop_moves_the_due_date_out_by_the_time_stopped() {
        let clock = Clock::started(at(0), Duration::hours(10));
        let stopped = clock.after_entering(State::ClarificationRequested, at(2));
        assert!(!stopped.is_running());
        assert!(!stopped.is_overdue(at(23)), "a stopped clock is never overdue");
        let resumed = stopped.after_entering(State::UnderReview, at(5));
        assert_eq!(resumed.due_at, Some(at(13)));
        assert!(resumed.is_running());
        assert!(!resumed.is_overdue(at(13)));
        assert!(resumed.is_overdue(at(14)));
    }

    #[test]
    fn an_unstarted_clock_neither_stops_nor_falls_due() {
        let clock = Clock::default().after_entering(State::Postponed, at(1));
        assert_eq!(clock, Clock::default());
        assert!(!clock.is_overdue(at(23)));
    }

    #[test]
    fn a_resumption_stamped_before_the_stop_moves_nothing_back() {
        let clock = Clock::started(at(0), Duration::hours(10)).after_entering(State::Postponed, at(5));
        assert_eq!(clock.after_entering(State::InExecution, at(4)).due_at, Some(at(10)));
    }
}
