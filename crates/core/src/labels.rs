//! Validated text fields: names and labels, single-line and length-limited.

use std::fmt;

use serde::Serialize;

use crate::validate::Problem;

/// Defines a validated, length-limited, single-line text newtype.
macro_rules! label {
    ($(#[$meta:meta])* $name:ident, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The maximum length in characters.
            pub const MAX_LEN: usize = $max;

            /// Checks `s`: 1 to `MAX_LEN` characters, no control characters.
            ///
            /// # Errors
            /// The [`Problem`] with `s`.
            pub fn parse(s: &str) -> Result<Self, Problem> {
                check_label(s, $max).map(|()| Self(s.to_owned()))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

label!(
    /// A connection's display name: 1–150 characters.
    ConnectionName,
    150
);
label!(
    /// Auth0's environment label of a connection: 1–55 characters.
    Environment,
    55
);
label!(
    /// The account a connection acts as (a Slack workspace, say): 1–150 characters.
    AccountName,
    150
);
label!(
    /// A management client's display name: 1–150 characters.
    ClientName,
    150
);

fn check_label(s: &str, max: usize) -> Result<(), Problem> {
    if s.is_empty() {
        Err(Problem::Empty)
    } else if s.chars().count() > max {
        Err(Problem::TooLong { max })
    } else if s.chars().any(char::is_control) {
        Err(Problem::ControlCharacter)
    } else {
        Ok(())
    }
}
