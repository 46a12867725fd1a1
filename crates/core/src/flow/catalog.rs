//! The action catalog: every action flowvault runs, with its params, as data (see
//! `actions.rs`, generated from Auth0's document).

use super::actions::ACTIONS;

/// What a param's value must be (when it is not a template, which can produce anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamKind {
    /// A string.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Anything.
    Any,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A vault connection id (`ac_…`), written literally: a flow's input can't pick which
    /// credentials are used.
    Connection,
}

/// One param of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Its name in `params`.
    pub name: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it must be.
    pub kind: ParamKind,
}

/// One action: its `type`, `action`, params, and the OAuth scopes it needs from an
/// `OAUTH_CODE` connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    /// `type`: an app id, or `FLOW` / `JSON` for logic.
    pub kind: &'static str,
    /// `action`.
    pub action: &'static str,
    /// The params.
    pub params: &'static [ParamSpec],
    /// Whether params beyond those listed are accepted (and passed to the provider).
    pub open_params: bool,
    /// Scopes an `OAUTH_CODE` connection must have been granted.
    pub scopes: &'static [&'static str],
}

impl ActionSpec {
    /// The action of `kind` called `action`.
    #[must_use]
    pub fn find(kind: &str, action: &str) -> Option<&'static ActionSpec> {
        ACTIONS.iter().find(|a| a.kind == kind && a.action == action)
    }

    /// Every action flowvault runs.
    #[must_use]
    pub fn all() -> &'static [ActionSpec] {
        &ACTIONS
    }

    /// The actions of `kind`, by name, for messages.
    #[must_use]
    pub fn actions_of(kind: &str) -> Vec<&'static str> {
        ACTIONS.iter().filter(|a| a.kind == kind).map(|a| a.action).collect()
    }

    /// The param called `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The app whose connections this action uses, if it uses one.
    #[must_use]
    pub fn app(&self) -> Option<crate::AppId> {
        self.param("connection_id").and_then(|_| self.kind.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_consistent() {
        for a in ActionSpec::all() {
            assert!(
                ActionSpec::find(a.kind, a.action).is_some_and(|b| std::ptr::eq(a, b)),
                "{} {} twice",
                a.kind,
                a.action
            );
            let is_logic = matches!(a.kind, "FLOW" | "JSON");
            assert_eq!(
                a.app().is_some(),
                a.param("connection_id").is_some(),
                "{} {}",
                a.kind,
                a.action
            );
            if !is_logic {
                assert!(a.kind.parse::<crate::AppId>().is_ok(), "{} is not an app", a.kind);
            }
        }
        assert!(
            ActionSpec::find("TWILIO", "SEND_SMS")
                .is_some_and(|a| a.param("message").is_some_and(|p| p.required))
        );
        assert_eq!(
            ActionSpec::find("HTTP", "SEND_REQUEST")
                .and_then(|a| a.param("connection_id"))
                .map(|p| p.required),
            Some(false)
        );
    }
}
