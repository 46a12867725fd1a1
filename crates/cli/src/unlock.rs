//! Opening the vault from the command line: the data directory, the database in it, and the
//! master key from wherever the operator keeps it.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use flowvault_core::{SystemClock, TenantName};
use flowvault_crypto::{MasterKey, UnlockError};
use flowvault_store::{MasterKeySource, Opened, SqliteStore, Store, Vault, VaultError};
use secrecy::SecretString;

use crate::args::Global;

const DB_FILE: &str = "flowvault.db";
const KEY_FILE: &str = "master.key";
use crate::secret_env::{MASTER_KEY as ENV_KEY, MASTER_PASSPHRASE as ENV_PASSPHRASE};

/// Where the master key came from, for messages (never the key itself).
#[derive(Debug, Clone)]
pub(crate) enum KeyOrigin {
    Env,
    File(PathBuf),
    Passphrase,
    Generated(PathBuf),
}

/// An open vault and what the CLI needs to say about it.
#[derive(Debug)]
pub(crate) struct OpenVault {
    pub(crate) vault: Arc<Vault>,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) data_dir: PathBuf,
    pub(crate) key_origin: KeyOrigin,
    pub(crate) created: bool,
}

/// Opens (creating on first use) the vault the global options point at.
pub(crate) async fn open_vault(global: &Global) -> Result<OpenVault> {
    let data_dir = data_dir(global)?;
    let db_path = data_dir.join(DB_FILE);
    let store = Arc::new(
        SqliteStore::open(&db_path)
            .await
            .with_context(|| format!("cannot open the database {}", db_path.display()))?,
    );
    let initialised = Vault::is_initialised(store.as_ref()).await?;
    let (source, key_origin) = master_key(global, &data_dir, initialised)?;
    let dyn_store: Arc<dyn Store> = store.clone();
    let (vault, opened) = match Vault::open(dyn_store, source, Arc::new(SystemClock)).await {
        Ok(v) => v,
        Err(VaultError::Unlock(UnlockError::WrongMasterKey)) => {
            store.close().await;
            bail!(
                "the master key {} does not open the vault in {}: it is not the key this vault \
                 was created with. Nothing was changed.",
                describe(&key_origin),
                data_dir.display()
            );
        }
        Err(e) => {
            store.close().await;
            return Err(
                anyhow!(e).context(format!("cannot open the vault in {}", data_dir.display()))
            );
        }
    };
    let created = opened == Opened::Created;
    if created {
        vault.ensure_tenant(&TenantName::default_tenant()).await?;
    }
    Ok(OpenVault { vault: Arc::new(vault), store, data_dir, key_origin, created })
}

/// `--data-dir`, `FLOWVAULT_DATA_DIR`, or the platform's data directory; created private.
fn data_dir(global: &Global) -> Result<PathBuf> {
    let dir = match &global.data_dir {
        Some(d) => d.clone(),
        None => dirs::data_dir()
            .map(|d| d.join("flowvault"))
            .ok_or_else(|| anyhow!("no data directory: give --data-dir or FLOWVAULT_DATA_DIR"))?,
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    } else if let Ok(meta) = fs::metadata(&dir)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "flowvault: warning: the data directory {} can be read by other users; run `chmod 700 {}`",
            dir.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// The master key source, in order: `FLOWVAULT_MASTER_KEY`, `--master-key-file` /
/// `FLOWVAULT_MASTER_KEY_FILE`, `FLOWVAULT_MASTER_PASSPHRASE`, `DIR/master.key`; and for a vault
/// that does not exist yet, a new key written to `DIR/master.key`.
fn master_key(
    global: &Global,
    dir: &Path,
    initialised: bool,
) -> Result<(MasterKeySource, KeyOrigin)> {
    let env_key = crate::secret_env::get(ENV_KEY);
    let passphrase = crate::secret_env::get(ENV_PASSPHRASE);
    let given = [env_key.is_some(), global.master_key_file.is_some(), passphrase.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!(
            "give the master key one way only: {ENV_KEY}, --master-key-file / FLOWVAULT_MASTER_KEY_FILE, or {ENV_PASSPHRASE}"
        );
    }
    if let Some(text) = env_key {
        let key = MasterKey::from_base64(&text).map_err(|e| anyhow!("{ENV_KEY}: {e}"))?;
        return Ok((MasterKeySource::Key(key), KeyOrigin::Env));
    }
    let insecure_ok = global.allow_insecure_key_file;
    if let Some(path) = &global.master_key_file {
        let key = read_key_file(path, insecure_ok)?;
        return Ok((MasterKeySource::Key(key), KeyOrigin::File(path.clone())));
    }
    if let Some(p) = passphrase {
        let p = SecretString::from(p.as_str().to_owned());
        return Ok((MasterKeySource::Passphrase(p), KeyOrigin::Passphrase));
    }
    let default = dir.join(KEY_FILE);
    if default.exists() {
        let key = read_key_file(&default, insecure_ok)?;
        return Ok((MasterKeySource::Key(key), KeyOrigin::File(default)));
    }
    if initialised {
        bail!(
            "the vault in {} exists, but no master key was given: set {ENV_KEY}, \
             FLOWVAULT_MASTER_KEY_FILE or {ENV_PASSPHRASE}, or put the key file back at {}",
            dir.display(),
            default.display()
        );
    }
    let key = MasterKey::generate()?;
    write_key_file(&default, &key)?;
    eprintln!(
        "flowvault: created a new master key at {} (mode 0600).\n\
         flowvault: back it up and keep it apart from the database: without it the vault can't be opened.",
        default.display()
    );
    Ok((MasterKeySource::Key(key), KeyOrigin::Generated(default)))
}

/// Reads a key file, refusing one that other users can read (unless `insecure_ok`: for
/// platforms or mounts that can't restrict permissions).
fn read_key_file(path: &Path, insecure_ok: bool) -> Result<MasterKey> {
    // One open, and the permissions of what was opened: a file swapped between a check by
    // path and the read would otherwise be read unchecked.
    let mut file = fs::File::open(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        if !insecure_ok {
            bail!(
                "the master key file {path} can be read by other users (mode {mode:03o}): run \
                 `chmod 600 {path}` (or, where permissions can't be restricted, pass \
                 --allow-insecure-key-file)",
                path = path.display()
            );
        }
        eprintln!(
            "flowvault: warning: the master key file {} can be read by other users (mode {mode:03o}); used because of --allow-insecure-key-file",
            path.display()
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    let text = secrecy::SecretString::from(text);
    MasterKey::from_base64(secrecy::ExposeSecret::expose_secret(&text))
        .map_err(|e| anyhow!("the master key file {}: {e}", path.display()))
}

/// Writes a new key file, mode 0600, refusing to overwrite one.
fn write_key_file(path: &Path, key: &MasterKey) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    let text = key.to_base64();
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// "from FLOWVAULT_MASTER_KEY", "in /path/master.key", …
pub(crate) fn describe(origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::Env => format!("from {ENV_KEY}"),
        KeyOrigin::File(p) => format!("in {}", p.display()),
        KeyOrigin::Passphrase => format!("derived from {ENV_PASSPHRASE}"),
        KeyOrigin::Generated(p) => format!("generated at {}", p.display()),
    }
}
