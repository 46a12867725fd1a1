//! The dashboard's boundaries without a browser: every state-changing request needs the CSRF
//! token and a role that may make it, sign-in is throttled and vague, pages carry the security
//! headers, and a secret typed into a form never comes back.

use flowvault_core::{Email, Role, TenantName, validate_create, validate_flow_create};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{Server, twilio_setup};

const PASSWORD: &str = "correct horse battery staple";

/// A browser without JavaScript: a cookie and the CSRF token its pages carry.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The value of hidden field `_csrf` in a page.
fn csrf_in(html: &str) -> String {
    let at =
        html.find("name=\"_csrf\" value=\"").unwrap_or_else(|| panic!("no CSRF field in {html}"));
    let rest = &html[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap_or(0)].to_owned()
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

async fn add_user(s: &Server, email: &str, role: Role) {
    let tenant = s
        .vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let email: Email = email.parse().unwrap_or_else(|e| panic!("{e}"));
    s.vault
        .create_user(&tenant.id, email, role, SecretString::from(PASSWORD.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Signs in through the form, as a browser does.
async fn sign_in(s: &Server, email: &str, password: &str) -> Result<Browser, (StatusCode, String)> {
    let http = client();
    let page =
        http.get(format!("{}/signin", s.base)).send().await.unwrap_or_else(|e| panic!("{e}"));
    let pre = cookie_of(&page, "fv_signin").unwrap_or_else(|| panic!("no pre-session cookie"));
    let csrf = csrf_in(&page.text().await.unwrap_or_default());
    let answer = http
        .post(format!("{}/signin", s.base))
        .header(COOKIE, &pre)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("tenant", "default"),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(cookie) = cookie_of(&answer, "fv_session") else {
        return Err((answer.status(), answer.text().await.unwrap_or_default()));
    };
    let vault = http.get(format!("{}/vault", s.base)).header(COOKIE, &cookie).send().await;
    let html = vault.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    Ok(Browser { http, base: s.base.clone(), csrf: csrf_in(&html), cookie })
}

impl Browser {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r =
            self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await;
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        (r.status(), r.text().await.unwrap_or_default())
    }

    /// Posts a form; with `csrf`, this session's token goes along.
    async fn post(&self, path: &str, form: &[(&str, &str)], csrf: bool) -> (StatusCode, String) {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if csrf {
            fields.push(("_csrf", &self.csrf));
        }
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(&fields)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (r.status(), r.text().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn no_state_changing_request_passes_without_the_csrf_token_or_the_role() {
    let s = Server::start().await;
    add_user(&s, "viewer@example.com", Role::Viewer).await;
    add_user(&s, "editor@example.com", Role::Editor).await;
    let tenant = s
        .vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let body = json!({"name": "Twilio prod", "app_id": "TWILIO", "setup": twilio_setup("tok-dashboard-0001")});
    let c = s
        .vault
        .create_connection(&tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await;
    let c = c.unwrap_or_else(|e| panic!("{e}")).id;
    let flow = validate_flow_create(&json!({"name": "F", "actions": []}))
        .unwrap_or_else(|e| panic!("{e}"));
    let f = s.vault.create_flow(&tenant, flow).await.unwrap_or_else(|e| panic!("{e}")).id;

    // Every state-changing route of the dashboard, with a body that would succeed.
    let conn = format!("/vault/{c}");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/vault/new/TWILIO".to_owned(),
            vec![("type", "API_KEY"), ("name", "new"), ("intent", "empty")],
        ),
        (conn.clone(), vec![("intent", "rename"), ("name", "renamed"), ("version", "1")]),
        (format!("{conn}/test"), vec![]),
        (format!("{conn}/refresh"), vec![]),
        (format!("{conn}/delete"), vec![]),
        ("/flows".to_owned(), vec![("name", "another")]),
        (format!("/flows/{f}"), vec![("op", "save"), ("name", "renamed"), ("count", "0")]),
        (format!("/flows/{f}/run"), vec![("fields", "{}")]),
        ("/signout".to_owned(), vec![]),
    ];
    let viewer =
        sign_in(&s, "viewer@example.com", PASSWORD).await.unwrap_or_else(|e| panic!("{e:?}"));
    let editor =
        sign_in(&s, "editor@example.com", PASSWORD).await.unwrap_or_else(|e| panic!("{e:?}"));
    for (path, form) in &posts {
        let (status, _) = editor.post(path, form, false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path} without the CSRF token");
        let (status, _) = editor.post(path, &[("_csrf", "not-the-token")], false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path} with a wrong CSRF token");
        if path != "/signout" {
            let (status, _) = viewer.post(path, form, true).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "a viewer's POST {path}");
        }
    }
    // The sign-in forms' double-submit token is no way around it: a cookie another site could
    // plant, with the same value in the form, opens no other route, signed in or not.
    for with_session in [true, false] {
        let cookie = if with_session {
            format!("{}; fv_signin=planted-value", editor.cookie)
        } else {
            "fv_signin=planted-value".to_owned()
        };
        let r = editor
            .http
            .post(format!("{}{}/delete", s.base, conn))
            .header(COOKIE, cookie)
            .form(&[("_csrf", "planted-value")])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a planted token passed (session: {with_session})"
        );
    }
    for path in
        ["/vault/new", "/vault/new/TWILIO", &format!("{conn}/connect"), &format!("{conn}/delete")]
    {
        assert_eq!(viewer.get(path).await.0, StatusCode::FORBIDDEN, "a viewer's GET {path}");
    }
    // Nothing changed…
    let now = s.vault.connection(&tenant, &c).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.name.as_str(), "Twilio prod");
    let flows = s
        .vault
        .list_flows(&tenant, &flowvault_store::ListQuery { app: None, offset: 0, limit: 10 })
        .await;
    assert_eq!(flows.unwrap_or_else(|e| panic!("{e}")).items.len(), 1);
    // …and the same request with the token and the role goes through.
    // Without the version the form was made at, nothing is changed either.
    let (status, _) = editor.post(&conn, &[("intent", "rename"), ("name", "renamed")], true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rename = [("intent", "rename"), ("name", "renamed"), ("version", "1")];
    let (status, _) = editor.post(&conn, &rename, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let now = s.vault.connection(&tenant, &c).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.name.as_str(), "renamed");
    // Signed out, the cookie opens nothing.
    assert_eq!(editor.post("/signout", &[], true).await.0, StatusCode::SEE_OTHER);
    assert_eq!(editor.get("/vault").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_is_throttled_and_does_not_say_what_was_wrong() {
    // A first wait long enough that a slow machine can't outlast it between two attempts.
    let s = Server::start_with(|c| c.sign_in_delay = std::time::Duration::from_secs(120)).await;
    add_user(&s, "ada@example.com", Role::Admin).await;
    let wrong_password = sign_in(&s, "ada@example.com", "not her password").await.err();
    let unknown_user = sign_in(&s, "bob@example.com", PASSWORD).await.err();
    let (a, b) = (wrong_password.unwrap_or_default(), unknown_user.unwrap_or_default());
    assert_eq!(a.0, StatusCode::UNAUTHORIZED);
    assert!(a.1.contains("Wrong tenant, e-mail address or password."), "{}", a.1);
    assert_eq!((a.0, b.0), (b.0, a.0));
    assert!(b.1.contains("Wrong tenant, e-mail address or password."));
    for _ in 0..5 {
        let _ = sign_in(&s, "ada@example.com", "still wrong").await;
    }
    // Five free failures and one more: the next attempt, even with the right password, waits.
    let throttled = sign_in(&s, "ada@example.com", PASSWORD).await.err().unwrap_or_default();
    assert!(throttled.1.contains("Too many failed sign-ins"), "{}", throttled.1);
    // Another account is not locked out by it.
    add_user(&s, "grace@example.com", Role::Viewer).await;
    assert!(sign_in(&s, "grace@example.com", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_never_a_typed_secret() {
    let s = Server::start().await;
    add_user(&s, "ada@example.com", Role::Editor).await;
    let anonymous =
        client().get(format!("{}/vault", s.base)).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/signin?next=%2Fvault")
    );
    let csp = anonymous
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(
        anonymous.headers().get("x-frame-options").and_then(|v| v.to_str().ok()),
        Some("DENY")
    );

    let b = sign_in(&s, "ada@example.com", PASSWORD).await.unwrap_or_else(|e| panic!("{e:?}"));
    let secret = "typed-secret-auth-token-93bd";
    // Refused (no name): the form comes back with the SID, never the token.
    let (status, html) = b
        .post(
            "/vault/new/TWILIO",
            &[
                ("type", "API_KEY"),
                ("name", ""),
                ("intent", "create"),
                ("setup.account_id", "AC0123456789abcdef0123456789abcdef"),
                ("setup.api_key", secret),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("AC0123456789abcdef0123456789abcdef") && !html.contains(secret),
        "{html}"
    );
    // Accepted: no page shows it, and the detail page says it is set.
    let (status, _) = b
        .post(
            "/vault/new/TWILIO",
            &[
                ("type", "API_KEY"),
                ("name", "Twilio"),
                ("intent", "create"),
                ("setup.account_id", "AC0123456789abcdef0123456789abcdef"),
                ("setup.api_key", secret),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, vault) = b.get("/vault").await;
    let at = vault.find("data-connection=\"").unwrap_or_else(|| panic!("none listed: {vault}"));
    let id: String = vault[at + 17..].chars().take_while(|c| *c != '"').collect();
    let (status, detail) = b.get(&format!("/vault/{id}")).await;
    assert!(id.starts_with("ac_"), "{id}");
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail.contains("Set: leave blank to keep it."), "{detail}");
    for page in [vault, detail] {
        assert!(!page.contains(secret));
    }
    // Replacing the SID only keeps the stored token (blank means keep).
    let (status, _) = b
        .post(
            &format!("/vault/{id}"),
            &[
                ("intent", "credentials"),
                ("version", "1"),
                ("type", "API_KEY"),
                ("setup.account_id", "AC0123456789abcdef0123456789abcdee"),
                ("setup.api_key", ""),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let tenant = s
        .vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let setup = s.vault.open_setup(&tenant, &id.parse().unwrap_or_else(|e| panic!("{e:?}"))).await;
    let setup = setup.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("empty"));
    assert_eq!(setup.expose("api_key"), Some(secret));
    assert_eq!(setup.expose("account_id"), Some("AC0123456789abcdef0123456789abcdee"));
}

#[tokio::test]
async fn the_flow_editor_keeps_unsaved_edits_and_shows_errors_at_their_param() {
    let s = Server::start().await;
    add_user(&s, "ada@example.com", Role::Editor).await;
    let tenant = s
        .vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let flow = validate_flow_create(&json!({"name": "Notify", "actions": []}))
        .unwrap_or_else(|e| panic!("{e}"));
    let f = s.vault.create_flow(&tenant, flow).await.unwrap_or_else(|e| panic!("{e}")).id;
    let b = sign_in(&s, "ada@example.com", PASSWORD).await.unwrap_or_else(|e| panic!("{e:?}"));
    let path = format!("/flows/{f}");
    // Adding an action shows it, with what was typed, and saves nothing.
    let (status, html) = b
        .post(
            &path,
            &[
                ("version", "1"),
                ("count", "0"),
                ("name", "Notify people"),
                ("op", "add"),
                ("new_action", "FLOW DO_NOTHING"),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("value=\"Notify people\"")
            && html.contains("name=\"a0.type\" value=\"FLOW\""),
        "{html}"
    );
    let stored = s.vault.flow(&tenant, &f).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(stored.actions.is_empty() && stored.name.as_str() == "Notify");
    // A broken template is refused at its param, with its line and column.
    let (status, html) = b
        .post(
            &path,
            &[
                ("version", "1"),
                ("count", "1"),
                ("name", "Notify"),
                ("op", "save"),
                ("a0.type", "FLOW"),
                ("a0.action", "ERROR_MESSAGE"),
                ("a0.id", "stop"),
                ("a0.p.message", "Hello\n{{ fields.name "),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    let at = html
        .find("id=\"f-a0.p.message-error\"")
        .unwrap_or_else(|| panic!("no error at the param: {html}"));
    let message = &html[at..at + html[at..].find("</p>").unwrap_or(0)];
    assert!(message.contains("line 2") && message.contains("column"), "{message}");
    // Fixed, it saves.
    let (status, html) = b
        .post(
            &path,
            &[
                ("version", "1"),
                ("count", "1"),
                ("name", "Notify"),
                ("op", "save"),
                ("a0.type", "FLOW"),
                ("a0.action", "ERROR_MESSAGE"),
                ("a0.id", "stop"),
                ("a0.p.message", "Hello {{ fields.name }}"),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Saved."), "{html}");
    let stored = s.vault.flow(&tenant, &f).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.actions.len(), 1);
    assert_eq!(stored.actions[0].params["message"], "Hello {{ fields.name }}");
}

#[tokio::test]
async fn a_refused_form_keeps_the_version_it_was_made_at() {
    let s = Server::start().await;
    add_user(&s, "ada@example.com", Role::Editor).await;
    let tenant = s
        .vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let body =
        json!({"name": "Twilio", "app_id": "TWILIO", "setup": twilio_setup("tok-dashboard-0002")});
    let c = s
        .vault
        .create_connection(&tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await;
    let c = c.unwrap_or_else(|e| panic!("{e}")).id;
    let b = sign_in(&s, "ada@example.com", PASSWORD).await.unwrap_or_else(|e| panic!("{e:?}"));
    // Someone renames it (version 2) while a form made at version 1 is being filled in.
    let (status, _) = b
        .post(
            &format!("/vault/{c}"),
            &[("intent", "rename"), ("name", "Renamed"), ("version", "1")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let refused = [
        ("intent", "credentials"),
        ("type", "API_KEY"),
        ("version", "1"),
        ("setup.account_id", ""),
        ("setup.api_key", ""),
    ];
    let (status, html) = b.post(&format!("/vault/{c}"), &refused, true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Shown again at version 1: resubmitting it can't overwrite the rename unseen.
    assert!(
        html.contains("name=\"version\" value=\"1\"")
            && !html.contains("name=\"version\" value=\"2\""),
        "{html}"
    );
}
