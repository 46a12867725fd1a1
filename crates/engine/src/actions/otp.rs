//! `OTP` actions: `GENERATE_CODE` draws a code of `length` digits from the OS generator and has
//! the vault keep it (as a MAC, see `flowvault_store::Vault::store_otp`) for `reference`;
//! `VERIFY_CODE` checks one. Auth0 documents no output for either; flowvault's are
//! `{"code": "…"}` and `{"valid": true}` / `{"valid": false, "reason": "…"}`. A wrong code is an
//! answer the flow branches on, not a failure; only a store that fails fails the action.
//!
//! The code is in `GENERATE_CODE`'s output so a later action can send it; the runner keeps it
//! out of the execution record (see [`super::output_is_secret`]).

use flowvault_core::OtpOp;
use flowvault_store::OtpCheck;
use serde_json::{Value, json};

use super::{ActionError, Call};

/// The most digits a code has (Auth0's `length` maximum); 10^10 fits a `u64`.
const MAX_LENGTH: u32 = 10;

/// The longest reference (Auth0's `maxLength`; a template may render a longer one).
const MAX_REFERENCE: usize = 250;

pub(super) async fn run(op: OtpOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let reference = call.str("reference")?;
    if reference.chars().count() > MAX_REFERENCE {
        return Err(ActionError::new(format!(
            "param `reference` is longer than {MAX_REFERENCE} characters"
        )));
    }
    match op {
        OtpOp::GenerateCode => {
            let code = draw(length(call.params.get("length"))?)?;
            call.vault.store_otp(call.tenant, &reference, &code).await.map_err(|e| {
                ActionError::new(format!("the one-time code could not be stored: {e}"))
            })?;
            Ok(json!({ "code": code }))
        }
        OtpOp::VerifyCode => {
            let spellings = spellings(call.params.get("code"))?;
            let spellings: Vec<&str> = spellings.iter().map(String::as_str).collect();
            let check =
                call.vault.verify_otp(call.tenant, &reference, &spellings).await.map_err(|e| {
                    ActionError::new(format!("the one-time code could not be checked: {e}"))
                })?;
            Ok(match reason(check) {
                None => json!({ "valid": true }),
                Some(reason) => json!({ "valid": false, "reason": reason }),
            })
        }
    }
}

/// Why a code is not valid, as the output names it; `None` when it is.
fn reason(check: OtpCheck) -> Option<&'static str> {
    match check {
        OtpCheck::Valid => None,
        OtpCheck::Wrong => Some("invalid_code"),
        OtpCheck::TooManyAttempts => Some("too_many_attempts"),
        OtpCheck::Expired => Some("expired"),
        OtpCheck::NotFound => Some("not_found"),
    }
}

/// `length`: a whole number from 1 to 10 (a template may render it as text).
fn length(value: Option<&Value>) -> Result<u32, ActionError> {
    let n = match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok()).filter(|n| (1..=MAX_LENGTH).contains(n)).ok_or_else(
        || {
            ActionError::new(format!(
                "param `length` must be a whole number from 1 to {MAX_LENGTH}"
            ))
        },
    )
}

/// A code of `length` digits, each of the 10^length codes equally likely, leading zeros kept.
fn draw(length: u32) -> Result<String, ActionError> {
    let codes = 10u64.pow(length.min(MAX_LENGTH));
    // Draws at or above the largest multiple of `codes` that fits are drawn again: taking the
    // rest of any u64 would make the low codes more likely (modulo bias).
    let fair = u64::MAX - u64::MAX % codes;
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|_| ActionError::new("the system's random generator failed"))?;
        let n = u64::from_le_bytes(bytes);
        if n < fair {
            return Ok(format!("{:0width$}", n % codes, width = length as usize));
        }
    }
}

/// The forms the `code` param may stand for: a string as given (without surrounding spaces); a
/// number, which lost any leading zeros, with each number of them it may have had (`42`:
/// `"42"`, `"042"`, … up to 10 digits).
fn spellings(value: Option<&Value>) -> Result<Vec<String>, ActionError> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(vec![s.trim().to_owned()]),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(ActionError::new("param `code` is empty"))
        }
        Some(Value::Number(n)) => {
            let n = n.as_u64().filter(|n| *n < 10u64.pow(MAX_LENGTH)).ok_or_else(|| {
                ActionError::new("param `code` must be text or a whole number of up to 10 digits")
            })?;
            let digits = n.to_string().len();
            Ok((digits..=MAX_LENGTH as usize).map(|width| format!("{n:0width$}")).collect())
        }
        Some(_) => {
            Err(ActionError::new("param `code` must be text or a whole number of up to 10 digits"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_length_and_every_digit_in_every_place() {
        for length in 1..=MAX_LENGTH {
            let code = draw(length).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(code.len(), length as usize, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        // 2,000 draws of 3 digits: each digit shows up in each place (a digit missing from a
        // place has odds of about 10^-91).
        let mut seen = [[false; 10]; 3];
        for _ in 0..2000 {
            let code = draw(3).unwrap_or_else(|e| panic!("{e}"));
            for (place, b) in code.bytes().enumerate() {
                seen[place][usize::from(b - b'0')] = true;
            }
        }
        assert!(seen.iter().flatten().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn length_is_a_whole_number_from_1_to_10() {
        assert_eq!(length(Some(&json!(6))).ok(), Some(6));
        assert_eq!(length(Some(&json!(" 4 "))).ok(), Some(4));
        for bad in [json!(0), json!(11), json!(2.5), json!(-1), json!("six"), json!(null)] {
            assert!(length(Some(&bad)).is_err(), "{bad}");
        }
        assert!(length(None).is_err());
    }

    #[test]
    fn a_number_stands_for_each_code_it_may_have_lost_zeros_from() {
        let forms = spellings(Some(&json!(42))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forms.first().map(String::as_str), Some("42"));
        assert_eq!(forms.last().map(String::as_str), Some("0000000042"));
        assert_eq!(forms.len(), 9);
        assert_eq!(
            spellings(Some(&json!(9_999_999_999_u64))).ok(),
            Some(vec!["9999999999".into()])
        );
        assert_eq!(spellings(Some(&json!(" 0042 "))).ok(), Some(vec!["0042".into()]));
        for bad in [json!(10_000_000_000_u64), json!(-3), json!(1.5), json!(true), json!([1])] {
            assert!(spellings(Some(&bad)).is_err(), "{bad}");
        }
        for empty in [json!(""), json!("  "), json!(null)] {
            assert!(spellings(Some(&empty)).is_err(), "{empty}");
        }
    }
}
