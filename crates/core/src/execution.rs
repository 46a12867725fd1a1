//! What an execution's status can be.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a flow's execution stands (Auth0's `status` of an execution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Still going.
    Running,
    /// Every action ran (or failed with `allow_failure`), or `RETURN_JSON` ended it.
    Completed,
    /// An action failed, or `ERROR_MESSAGE` ended it.
    Failed,
}

impl ExecutionStatus {
    /// The word the API shows and the store keeps.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an execution status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an execution status (running, completed, failed)")]
pub struct UnknownExecutionStatus;

impl FromStr for ExecutionStatus {
    type Err = UnknownExecutionStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [ExecutionStatus::Running, ExecutionStatus::Completed, ExecutionStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownExecutionStatus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_word_reads_back_and_is_what_serde_writes() {
        for status in
            [ExecutionStatus::Running, ExecutionStatus::Completed, ExecutionStatus::Failed]
        {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(serde_json::to_value(status).ok(), Some(status.as_str().into()));
        }
        assert_eq!("done".parse::<ExecutionStatus>(), Err(UnknownExecutionStatus));
    }
}
