//! The action catalog: every action of Auth0's `FlowAction` union, with the rules of its params,
//! as data (see `actions.rs`, generated from Auth0's document).

use super::actions::{ACTIONS, ActionId};
use super::schema::{ObjectSchema, Schema};

/// One action: its identity, its `type` and `action` as Auth0 writes them, the rules of its
/// params, and the OAuth scopes it needs from an `OAUTH_CODE` connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionSpec {
    /// Which action this is, as the compiler can check.
    pub id: ActionId,
    /// `type`: an app id, or a logic type (`FLOW`, `JSON`, `XML`, `OTP`, `EMAIL`).
    pub kind: &'static str,
    /// `action`.
    pub action: &'static str,
    /// The rules of `params` (an object).
    pub params: Schema,
    /// Whether `params` must be given at all.
    pub params_required: bool,
    /// Scopes an `OAUTH_CODE` connection must have been granted.
    pub scopes: &'static [&'static str],
}

impl ActionSpec {
    /// The action of `kind` called `action`.
    #[must_use]
    pub fn find(kind: &str, action: &str) -> Option<&'static ActionSpec> {
        ACTIONS.iter().find(|a| a.kind == kind && a.action == action)
    }

    /// Every action of Auth0's `FlowAction` union.
    #[must_use]
    pub fn all() -> &'static [ActionSpec] {
        &ACTIONS
    }

    /// The actions of `kind`, by name, for messages.
    #[must_use]
    pub fn actions_of(kind: &str) -> Vec<&'static str> {
        ACTIONS.iter().filter(|a| a.kind == kind).map(|a| a.action).collect()
    }

    /// The rules of the params object.
    #[must_use]
    pub fn params_object(&self) -> Option<&'static ObjectSchema> {
        match self.params {
            Schema::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The rule of the param called `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'static Schema> {
        self.params_object().and_then(|o| o.property(name))
    }

    /// Whether the param called `name` must be given.
    #[must_use]
    pub fn requires(&self, name: &str) -> bool {
        self.params_object().is_some_and(|o| o.required.contains(&name))
    }

    /// The app whose connections this action uses, if it uses one.
    #[must_use]
    pub fn app(&self) -> Option<crate::AppId> {
        self.param("connection_id").and_then(|_| self.kind.parse().ok())
    }
}

impl ActionId {
    /// The catalog entry of this action.
    #[must_use]
    pub fn spec(self) -> &'static ActionSpec {
        // `ACTIONS` is generated in `ActionId::ALL` order.
        &ACTIONS[self.index()]
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
            let is_logic = matches!(a.kind, "FLOW" | "JSON" | "XML" | "OTP" | "EMAIL");
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
        assert!(ActionSpec::find("TWILIO", "SEND_SMS").is_some_and(|a| a.requires("message")));
        assert!(
            ActionSpec::find("HTTP", "SEND_REQUEST").is_some_and(|a| !a.requires("connection_id"))
        );
        for (i, id) in ActionId::ALL.iter().enumerate() {
            assert_eq!(id.spec().id, *id);
            assert_eq!(ActionSpec::all()[i].id, *id);
            assert_eq!(id.names(), (id.spec().kind, id.spec().action));
        }
    }
}
