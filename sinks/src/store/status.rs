//! The batch state machine of reports-events-api.md, as the Rust side sees it. The
//! database enforces it (batch_status_transitions + triggers); this module only spells the
//! states and finds the legal path a writer walks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A batch's status in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchState {
    Pending,
    Uploaded,
    Scattering,
    Gathering,
    Diagnosing,
    Completed,
    Failed,
}

impl BatchState {
    /// The forward chain, in order; `Failed` is reachable from every state after `Pending`.
    pub const CHAIN: [BatchState; 6] = [
        BatchState::Pending,
        BatchState::Uploaded,
        BatchState::Scattering,
        BatchState::Gathering,
        BatchState::Diagnosing,
        BatchState::Completed,
    ];

    pub const ALL: [BatchState; 7] = [
        BatchState::Pending,
        BatchState::Uploaded,
        BatchState::Scattering,
        BatchState::Gathering,
        BatchState::Diagnosing,
        BatchState::Completed,
        BatchState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Pending => "pending",
            BatchState::Uploaded => "uploaded",
            BatchState::Scattering => "scattering",
            BatchState::Gathering => "gathering",
            BatchState::Diagnosing => "diagnosing",
            BatchState::Completed => "completed",
            BatchState::Failed => "failed",
        }
    }

    /// No move leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, BatchState::Completed | BatchState::Failed)
    }

    /// Whether `self` comes before `to` on the forward chain: a working state that `to`
    /// lies ahead of. A final state precedes nothing, and `failed` is not on the chain.
    pub fn precedes(self, to: BatchState) -> bool {
        !self.is_terminal() && matches!((self.chain_index(), to.chain_index()), (Some(a), Some(b)) if a < b)
    }

    /// Whether `self → to` is one legal move (the same table as the database's).
    pub fn can_move_to(self, to: BatchState) -> bool {
        if to == BatchState::Failed {
            return !self.is_terminal() && self != BatchState::Pending;
        }
        matches!((self.chain_index(), to.chain_index()), (Some(a), Some(b)) if b == a + 1)
    }

    /// Where `self` stands on the forward chain (`None` for `failed`).
    fn chain_index(self) -> Option<usize> {
        Self::CHAIN.iter().position(|&c| c == self)
    }

    /// The states to pass through, in order, to get from `self` to `to` (excluding `self`);
    /// `None` when `to` cannot be reached.
    pub fn path_to(self, to: BatchState) -> Option<Vec<BatchState>> {
        let mut path = Vec::new();
        let mut at = self;
        while at != to {
            let next = if to == BatchState::Failed && at.can_move_to(BatchState::Failed) {
                BatchState::Failed
            } else {
                *Self::CHAIN.get(at.chain_index()? + 1)?
            };
            path.push(next);
            at = next;
        }
        Some(path)
    }
}

impl From<argus_pipeline::report::BatchStatus> for BatchState {
    fn from(status: argus_pipeline::report::BatchStatus) -> Self {
        match status {
            argus_pipeline::report::BatchStatus::Completed => BatchState::Completed,
            argus_pipeline::report::BatchStatus::Failed => BatchState::Failed,
        }
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BatchState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        BatchState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown batch status {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::BatchState::{self, *};

    #[test]
    fn paths_follow_the_chain_and_fail_early() {
        assert_eq!(
            Pending.path_to(Completed).unwrap(),
            [Uploaded, Scattering, Gathering, Diagnosing, Completed]
        );
        assert_eq!(Pending.path_to(Failed).unwrap(), [Uploaded, Failed]);
        assert_eq!(Gathering.path_to(Failed).unwrap(), [Failed]);
        assert_eq!(Completed.path_to(Completed).unwrap(), Vec::<BatchState>::new());
        assert!(Completed.path_to(Failed).is_none());
        assert!(Failed.path_to(Completed).is_none());
        assert!(Diagnosing.path_to(Uploaded).is_none());
    }

    #[test]
    fn only_working_states_precede_later_ones() {
        assert!(Pending.precedes(Diagnosing) && Scattering.precedes(Gathering));
        assert!(!Gathering.precedes(Scattering) && !Gathering.precedes(Gathering));
        assert!(!Completed.precedes(Diagnosing) && !Failed.precedes(Diagnosing));
        assert!(!Uploaded.precedes(Failed));
    }

    #[test]
    fn moves_match_the_spec() {
        assert!(!Pending.can_move_to(Failed));
        assert!(!Uploaded.can_move_to(Gathering));
        assert!(!Completed.can_move_to(Failed));
        assert!(Diagnosing.can_move_to(Completed));
    }
}
