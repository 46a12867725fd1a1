//! Management API scopes, with Auth0's names.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One permission of the Management API.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[non_exhaustive]
pub enum Scope {
    /// `read:flows_vault_connections`
    ReadConnections,
    /// `create:flows_vault_connections`
    CreateConnections,
    /// `update:flows_vault_connections`
    UpdateConnections,
    /// `delete:flows_vault_connections`
    DeleteConnections,
    /// `read:flows`
    ReadFlows,
    /// `create:flows`
    CreateFlows,
    /// `update:flows`
    UpdateFlows,
    /// `delete:flows`
    DeleteFlows,
    /// `read:flows_executions`
    ReadExecutions,
    /// `delete:flows_executions`
    DeleteExecutions,
    /// `create:flows_executions` (flowvault's: run a flow through the API)
    CreateExecutions,
}

impl Scope {
    /// Every scope.
    pub const ALL: &'static [Scope] = &[
        Scope::ReadConnections,
        Scope::CreateConnections,
        Scope::UpdateConnections,
        Scope::DeleteConnections,
        Scope::ReadFlows,
        Scope::CreateFlows,
        Scope::UpdateFlows,
        Scope::DeleteFlows,
        Scope::ReadExecutions,
        Scope::DeleteExecutions,
        Scope::CreateExecutions,
    ];

    /// Auth0's name for it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::ReadConnections => "read:flows_vault_connections",
            Scope::CreateConnections => "create:flows_vault_connections",
            Scope::UpdateConnections => "update:flows_vault_connections",
            Scope::DeleteConnections => "delete:flows_vault_connections",
            Scope::ReadFlows => "read:flows",
            Scope::CreateFlows => "create:flows",
            Scope::UpdateFlows => "update:flows",
            Scope::DeleteFlows => "delete:flows",
            Scope::ReadExecutions => "read:flows_executions",
            Scope::DeleteExecutions => "delete:flows_executions",
            Scope::CreateExecutions => "create:flows_executions",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that flowvault does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .iter()
            .copied()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| UnknownScope(s.chars().take(64).collect()))
    }
}

/// A set of scopes; its text form is space-separated, as in OAuth's `scope`.
#[derive(Clone, PartialEq, Eq, Default, Debug)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Every scope.
    #[must_use]
    pub fn all() -> Self {
        Self(Scope::ALL.iter().copied().collect())
    }

    /// Whether `scope` is in the set.
    #[must_use]
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `other` is in this set.
    #[must_use]
    pub fn covers(&self, other: &Scopes) -> bool {
        other.0.is_subset(&self.0)
    }

    /// The scopes of `other` missing from this set.
    #[must_use]
    pub fn missing(&self, other: &Scopes) -> Scopes {
        Scopes(other.0.difference(&self.0).copied().collect())
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    /// Space- (or comma-) separated scope names; blanks are ignored.
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        s.split([' ', ',', '\t', '\n'])
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let all = Scopes::all();
        assert_eq!(all.to_string().parse::<Scopes>(), Ok(all.clone()));
        let some: Scopes = "read:flows_vault_connections  create:flows_vault_connections"
            .parse()
            .unwrap_or_default();
        assert!(
            some.contains(Scope::CreateConnections) && !some.contains(Scope::DeleteConnections)
        );
        assert!(all.covers(&some) && !some.covers(&all));
        assert_eq!(some.missing(&all).iter().count(), Scope::ALL.len() - 2);
        assert_eq!("read:users".parse::<Scopes>(), Err(UnknownScope("read:users".into())));
        assert_eq!("".parse::<Scopes>(), Ok(Scopes::default()));
    }
}
