//! Dashboard users: who may sign in to a tenant's dashboard, and what each role may do there.
//!
//! The rules live here, once: the server enforces them on every request, the CLI checks them
//! when a user is created, and the pages only hide what the server would refuse anyway.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What a dashboard user may do in their tenant. Ordered: each role may do all the one before
/// it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads connections, flows and executions; changes nothing.
    Viewer,
    /// Also creates, changes, tests, refreshes and deletes connections and flows, and runs
    /// flows.
    Editor,
    /// Also manages the tenant's dashboard users.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// The role's name: `viewer`, `editor`, `admin`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may change the tenant's connections and flows and run flows.
    #[must_use]
    pub fn may_edit(self) -> bool {
        self >= Role::Editor
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role; use admin, editor or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A dashboard user's e-mail address, the name they sign in with: trimmed and lower-cased, so
/// `Ada@Example.com` and `ada@example.com` are one user.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why a string is not an e-mail address a user can sign in with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an e-mail address such as ada@example.com")]
pub struct EmailError;

impl Email {
    /// The longest address accepted (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, EmailError> {
        let s = s.trim();
        let ok = s.len() <= Email::MAX_LEN && crate::flow::is_email(s);
        if ok { Ok(Self(s.to_lowercase())) } else { Err(EmailError) }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// The shortest password a dashboard user may have. Long rather than complex (NIST SP 800-63B):
/// no rules about symbols, which only make people write passwords down.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest: bounds the work of hashing one.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a password can't be a dashboard user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

/// Checks a new password against the policy (not a sign-in attempt: any password may be tried).
///
/// # Errors
/// The [`PasswordProblem`].
pub fn check_new_password(password: &str) -> Result<(), PasswordProblem> {
    if password.len() > MAX_PASSWORD_BYTES {
        Err(PasswordProblem::TooLong)
    } else if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(PasswordProblem::TooShort)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_order() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Viewer);
        assert!(!Role::Viewer.may_edit());
        assert!(Role::Editor.may_edit() && Role::Admin.may_edit());
        assert_eq!("Admin".parse::<Role>(), Err(UnknownRole("Admin".to_owned())));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let e: Email = " Ada@Example.COM ".parse().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(e.as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "a b@example.com"] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(long.parse::<Email>().is_err());
    }

    #[test]
    fn passwords_are_long_rather_than_complex() {
        assert_eq!(check_new_password("short"), Err(PasswordProblem::TooShort));
        assert_eq!(check_new_password("correct horse"), Ok(()));
        // Characters, not bytes: twelve accented letters pass.
        assert_eq!(check_new_password(&"é".repeat(12)), Ok(()));
        assert_eq!(check_new_password(&"x".repeat(1025)), Err(PasswordProblem::TooLong));
    }
}
