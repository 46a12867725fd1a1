//! Mailchimp `UPSERT_MEMBER`: `PUT /3.0/lists/{list_id}/members/{subscriber_hash}`, where the
//! hash is the MD5 of the lower-cased e-mail address, on the account's data center: the suffix
//! of an API key (`…-us6`), or what the OAuth metadata endpoint says for an OAuth token.

use flowvault_core::{AppId, SetupType};
use http::Method;
use md5::{Digest as _, Md5};
use serde_json::Value;

use flowvault_core::MailchimpOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment, provider_error};

const METADATA: &str = "https://login.mailchimp.com/oauth2/metadata";
const ERRORS: &[&str] = &["/detail", "/title"];

pub(super) async fn run(op: MailchimpOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let MailchimpOp::UpsertMember = op;
    let list = call.str("list_id")?;
    let member = call
        .object("member")?
        .cloned()
        .ok_or_else(|| ActionError::new("param `member` is empty"))?;
    let email = member
        .get("email_address")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ActionError::new("param `member.email_address` is empty"))?;
    let hash = hex(&Md5::digest(email.to_lowercase().as_bytes()));
    let (api, auth) = match call.setup_type() {
        Some(SetupType::ApiKey) => {
            let key = call.setup("secret_key")?.to_owned();
            // `…-us6`: the data center is letters then digits, nothing that could change the host.
            let dc = key
                .rsplit_once('-')
                .map(|(_, dc)| dc.to_owned())
                .filter(|dc| is_data_center(dc))
                .ok_or_else(|| {
                    ActionError::new("the API key has no data center suffix (such as `-us6`)")
                })?;
            let api = call.http.base(AppId::Mailchimp, &format!("https://{dc}.api.mailchimp.com"));
            (api, Auth::Basic("flowvault".to_owned(), key))
        }
        Some(SetupType::OauthCode) => {
            let token = call.access_token()?.to_owned();
            (endpoint_of(call, &token).await?, Auth::Bearer(token))
        }
        _ => {
            return Err(ActionError::new(
                "Mailchimp actions need an API_KEY or OAUTH_CODE connection",
            ));
        }
    };
    let url = format!("{api}/3.0/lists/{}/members/{hash}", path_segment(&list)?);
    let response = call
        .http
        .send(Request::new(Method::PUT, url).json(Value::Object(member)).auth(auth), true)
        .await?;
    if (200..300).contains(&response.status) {
        return Ok(response.body);
    }
    let mut error = provider_error("MAILCHIMP", &response, ERRORS);
    // A validation error's detail only points at `errors`, which names the fields.
    let fields: Vec<String> = response
        .body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(format!("{}: {}", e.get("field")?.as_str()?, e.get("message")?.as_str()?))
        })
        .take(5)
        .collect();
    if !fields.is_empty() {
        error.message = format!("{} ({})", error.message, fields.join("; "));
    }
    Err(error)
}

/// The API endpoint of an OAuth token's account.
async fn endpoint_of(call: &Call<'_>, token: &str) -> Result<String, ActionError> {
    let metadata = call.http.base(AppId::Mailchimp, METADATA);
    let url = if metadata.ends_with("/oauth2/metadata") {
        metadata
    } else {
        format!("{metadata}/oauth2/metadata")
    };
    let request = Request::new(Method::GET, url).header("authorization", format!("OAuth {token}"));
    let response =
        Http::expect_success("MAILCHIMP", call.http.send(request, true).await?, &["/error"])?;
    // Where the token goes next: an https origin, nothing else.
    response
        .body
        .get("api_endpoint")
        .and_then(Value::as_str)
        .and_then(|s| url::Url::parse(s).ok())
        .filter(|u| {
            u.scheme() == "https"
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && matches!(u.path(), "" | "/")
        })
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .ok_or_else(|| ActionError::new("Mailchimp's metadata has no usable api_endpoint"))
}

/// `us6`, `us21`: letters, then digits.
fn is_data_center(dc: &str) -> bool {
    let digits = dc.trim_start_matches(|c: char| c.is_ascii_lowercase());
    digits.len() < dc.len() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_hash_is_md5_of_the_lower_cased_address() {
        // Mailchimp's documented example: md5("urist.mcvankab@freddiesjokes.com").
        assert_eq!(
            hex(&Md5::digest("Urist.McVankab@FreddiesJokes.com".to_lowercase().as_bytes())),
            "62eeb292278cc15f5817cb78f7790b08"
        );
    }

    #[test]
    fn data_centers_are_letters_then_digits() {
        for ok in ["us6", "us21", "eu1"] {
            assert!(is_data_center(ok), "{ok}");
        }
        for bad in ["", "us", "6", "evil.com#", "us6.evil.com", "US6", "us6/x"] {
            assert!(!is_data_center(bad), "{bad}");
        }
    }
}
