//! The master keyring (from settings, or a generated local key file) and tenant keys.

use std::{fs, io::Write, path::Path};

use anyhow::{bail, Context};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::{
    config::SecuritySettings,
    crypto::keyring::{MasterKeyring, TenantKey},
    db,
    error::AppError,
};

/// `master_keys` when configured; otherwise the key in `master_key_file`, generated on first
/// start. A malformed key stops the process with a message naming the setting to fix.
pub fn load_master_keyring(settings: &SecuritySettings) -> anyhow::Result<MasterKeyring> {
    if !settings.master_keys.is_empty() {
        let keys: Vec<String> = settings
            .master_keys
            .iter()
            .map(|key| key.expose().clone())
            .collect();
        return MasterKeyring::from_keys(&keys)
            .context("security.master_keys (MASTER_KEYS) is not usable");
    }
    let path = Path::new(&settings.master_key_file);
    if !path.exists() {
        create_key_file(path)?;
        tracing::warn!(
            path = %path.display(),
            "generated a new master key; back this file up: without it no webhook secret can be read"
        );
    }
    let key = fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    MasterKeyring::from_keys(&[key.trim().to_owned()]).with_context(|| {
        format!(
            "the master key file {} (security.master_key_file / MASTER_KEY_FILE) is malformed",
            path.display()
        )
    })
}

fn create_key_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    writeln!(file, "{}", MasterKeyring::generate_key())?;
    file.sync_all()?;
    Ok(())
}

/// The tenant's Fernet key, opened with the master keyring.
pub async fn tenant_key(
    db: impl PgExecutor<'_>,
    keyring: &MasterKeyring,
    tenant_id: Uuid,
) -> Result<TenantKey, AppError> {
    let sealed = db::tenants::sealed_key(db, tenant_id).await?;
    keyring.open_tenant_key(&sealed).map_err(AppError::internal)
}

/// Re-encrypts every tenant key under the newest master key, in one transaction. Afterwards
/// older master keys can be removed from the configuration.
pub async fn rotate_master_key(pool: &PgPool, keyring: &MasterKeyring) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let tenants = db::tenants::all_sealed_keys_for_update(&mut *tx).await?;
    for (tenant_id, sealed) in &tenants {
        let resealed = match keyring.reseal(sealed) {
            Ok(resealed) => resealed,
            Err(err) => {
                bail!("tenant {tenant_id}: {err}; is every old master key still configured?")
            }
        };
        db::tenants::set_sealed_key(&mut *tx, *tenant_id, &resealed).await?;
    }
    tx.commit().await?;
    Ok(tenants.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_file_is_generated_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;

        let dir = std::env::temp_dir().join(format!("aw-keys-{}", Uuid::new_v4()));
        let settings = SecuritySettings {
            master_key_file: dir.join("nested/master.key").display().to_string(),
            ..SecuritySettings::default()
        };
        let first = load_master_keyring(&settings).unwrap();
        let mode = fs::metadata(&settings.master_key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_master_keyring(&settings).unwrap();
        let tenant_key = TenantKey::generate();
        let sealed = first.seal_tenant_key(&tenant_key);
        assert!(
            second.open_tenant_key(&sealed).is_ok(),
            "the same key is read back"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_malformed_configured_key_stops_start_up_naming_the_setting() {
        let settings = SecuritySettings {
            master_keys: vec![crate::config::Redacted::new("not-a-key".to_owned())],
            ..SecuritySettings::default()
        };
        let err = format!("{:#}", load_master_keyring(&settings).unwrap_err());
        assert!(err.contains("MASTER_KEYS"), "{err}");
        assert!(
            !err.contains("not-a-key"),
            "the key itself is never echoed: {err}"
        );
    }
}
