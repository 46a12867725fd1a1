//! The master key: generated on first use, required afterwards, and a wrong one changes nothing.

use std::os::unix::fs::PermissionsExt as _;

use crate::support::{CANARY, Cli, path_str, snapshot, twilio_setup};

#[test]
fn first_use_generates_a_private_key_file_and_says_where() {
    let cli = Cli::new();
    let run = cli.run(&["status"]);
    assert!(run.ok, "{}", run.stderr);
    let key_file = cli.data_dir().join("master.key");
    assert!(run.stderr.contains(&key_file.display().to_string()), "{}", run.stderr);
    let mode =
        std::fs::metadata(&key_file).map(|m| m.permissions().mode() & 0o777).unwrap_or_default();
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(cli.data_dir())
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default();
    assert_eq!(dir_mode, 0o700);
    // The second run opens the same vault with that key, silently.
    let again = cli.run(&["status", "--json"]);
    assert!(again.ok && !again.stderr.contains("created a new master key"), "{}", again.stderr);
    let status: serde_json::Value = serde_json::from_str(&again.stdout).unwrap_or_default();
    assert_eq!(status["created"], false);
    assert_eq!(status["connections"], 0);
}

#[test]
fn a_wrong_master_key_exits_non_zero_and_changes_nothing() {
    let cli = Cli::new();
    let setup = cli.write("twilio.json", &twilio_setup(CANARY));
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&setup),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let before = snapshot(&cli.data_dir());

    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    for args in [
        vec!["connections", "list"],
        vec!["connections", "create", "--app", "ZAPIER", "--name", "Z", "--empty"],
        vec!["status"],
    ] {
        let run = cli.run_with(&args, None, &[("FLOWVAULT_MASTER_KEY", wrong)]);
        assert!(!run.ok, "{args:?} succeeded with a wrong key");
        assert!(
            run.stderr.contains("the master key from FLOWVAULT_MASTER_KEY does not open the vault")
                && run.stderr.contains("Nothing was changed"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(snapshot(&cli.data_dir()), before, "the data directory changed");

    // A wrong key file and a wrong passphrase are refused the same way.
    let other_key = cli.write("other.key", wrong);
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    let run = cli.run(&["connections", "list", "--master-key-file", path_str(&other_key)]);
    assert!(!run.ok && run.stderr.contains("does not open the vault"), "{}", run.stderr);
    let run =
        cli.run_with(&["connections", "list"], None, &[("FLOWVAULT_MASTER_PASSPHRASE", "guess")]);
    assert!(
        !run.ok && run.stderr.contains("created with a master key, not a passphrase"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&cli.data_dir()), before, "the data directory changed");

    let list = cli.json(&["connections", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[test]
fn an_existing_vault_without_its_key_is_not_replaced() {
    let cli = Cli::new();
    assert!(cli.run(&["status"]).ok);
    let key_file = cli.data_dir().join("master.key");
    let moved = cli.dir.path().join("master.key.bak");
    std::fs::rename(&key_file, &moved).unwrap_or_else(|e| panic!("{e}"));
    let run = cli.run(&["connections", "list"]);
    assert!(!run.ok && run.stderr.contains("no master key was given"), "{}", run.stderr);
    assert!(!key_file.exists(), "a new key was generated over an existing vault");
}

#[test]
fn a_passphrase_vault() {
    let cli = Cli::new();
    let env = [("FLOWVAULT_MASTER_PASSPHRASE", "correct horse battery staple")];
    let c = cli.run_with(
        &["connections", "create", "--app", "ZAPIER", "--name", "Z", "--empty", "--json"],
        None,
        &env,
    );
    assert!(c.ok, "{}", c.stderr);
    assert!(!cli.data_dir().join("master.key").exists());
    let list = cli.run_with(&["connections", "list", "--json"], None, &env);
    assert!(list.ok, "{}", list.stderr);
    let wrong =
        cli.run_with(&["connections", "list"], None, &[("FLOWVAULT_MASTER_PASSPHRASE", "wrong")]);
    assert!(!wrong.ok && wrong.stderr.contains("does not open"), "{}", wrong.stderr);
}

#[test]
fn a_malformed_key_is_named() {
    let cli = Cli::new();
    let run = cli.run_with(&["status"], None, &[("FLOWVAULT_MASTER_KEY", "short")]);
    assert!(!run.ok && run.stderr.contains("FLOWVAULT_MASTER_KEY"), "{}", run.stderr);
}

#[test]
fn a_key_file_others_can_read_is_refused_unless_allowed() {
    let cli = Cli::new();
    assert!(cli.run(&["status"]).ok);
    let key_file = cli.data_dir().join("master.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let run = cli.run(&["status"]);
    assert!(!run.ok, "a world-readable key file was used");
    assert!(
        run.stderr.contains("can be read by other users")
            && run.stderr.contains(&format!("chmod 600 {}", key_file.display())),
        "{}",
        run.stderr
    );
    let allowed = cli.run(&["status", "--allow-insecure-key-file"]);
    assert!(allowed.ok && allowed.stderr.contains("warning"), "{}", allowed.stderr);
    // The database and its journal files are the owner's alone.
    for name in ["flowvault.db", "flowvault.db-wal", "flowvault.db-shm"] {
        let path = cli.data_dir().join(name);
        if path.exists() {
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600), "{name}");
        }
    }
}
