//! Who may sign in: the registry of drivers and their tokens, in the server's database.
//!
//! Tokens are 128 random bits (32 hex digits) made by the server; only their SHA-256 is stored,
//! so a copy of the database does not let anyone sign in. A revoked token is remembered as
//! revoked (so the app can say so) until the dispatcher issues a new one.

use crate::sql::{SqlConnection, SqliteSql};
use crate::sql_params;
use crate::store::{SqliteStore, StoreError};
use enroute_protocol::FeedChange;
use sha2::{Digest, Sha256};
use std::fmt;

/// The longest driver id the registry accepts.
pub const MAX_DRIVER_ID_CHARS: usize = 64;

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// No token, an unknown driver, or a token that is not the driver's.
    Unauthorized,
    /// The driver's token was revoked.
    Revoked,
}

/// Why a registry change was refused.
#[derive(Debug)]
pub enum RegistryError {
    /// The driver id is empty, too long, or has characters other than letters, digits, `.`, `_`, `-`.
    BadDriverId(String),
    AlreadyRegistered(String),
    NotRegistered(String),
    Store(StoreError),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::BadDriverId(id) => write!(
                formatter,
                "driver id {id:?} must be 1 to {MAX_DRIVER_ID_CHARS} letters, digits, '.', '_' or '-'"
            ),
            RegistryError::AlreadyRegistered(id) => write!(formatter, "driver {id} is already registered"),
            RegistryError::NotRegistered(id) => write!(formatter, "no driver {id} is registered"),
            RegistryError::Store(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for RegistryError {}

impl From<StoreError> for RegistryError {
    fn from(error: StoreError) -> RegistryError {
        RegistryError::Store(error)
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(error: rusqlite::Error) -> RegistryError {
        RegistryError::Store(StoreError::Query(error))
    }
}

/// Whether `driver_id` is one the registry accepts.
pub fn is_valid_driver_id(driver_id: &str) -> bool {
    !driver_id.is_empty()
        && driver_id.chars().count() <= MAX_DRIVER_ID_CHARS
        && driver_id.chars().all(|character| character.is_ascii_alphanumeric() || "._-".contains(character))
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Adds an account with `token`; false if the driver has one already.
pub(crate) fn insert_account(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    token: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let inserted = db.execute(
        "INSERT INTO driver_accounts (driver_id, token_sha256, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        sql_params![driver_id, token_hash(token), now_ms],
    )?;
    Ok(inserted > 0)
}

/// Gives the driver an account with `token`, or a new token (and no revocation) if it has one.
pub(crate) fn set_account_token(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    token: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO driver_accounts (driver_id, token_sha256, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (driver_id) DO UPDATE SET token_sha256 = excluded.token_sha256, revoked_ms = NULL",
        sql_params![driver_id, token_hash(token), now_ms],
    )?;
    Ok(())
}

/// Revokes the driver's token; false if it has no account.
pub(crate) fn revoke_account(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE driver_accounts SET revoked_ms = ?2 WHERE driver_id = ?1",
        sql_params![driver_id, now_ms],
    )? > 0)
}

pub(crate) fn is_registered_in(db: &mut dyn SqlConnection, driver_id: &str) -> Result<bool, StoreError> {
    Ok(db.query_opt("SELECT 1 FROM driver_accounts WHERE driver_id = ?1", sql_params![driver_id])?.is_some())
}

pub(crate) fn registered_drivers_in(db: &mut dyn SqlConnection) -> Result<u64, StoreError> {
    Ok(db.query_one("SELECT COUNT(*) FROM driver_accounts", &[])?.int(0)? as u64)
}

/// Whether `token` signs `driver_id` in, and why not.
pub(crate) fn check_sign_in_in(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    token: Option<&str>,
) -> Result<Result<(), SignInRefusal>, StoreError> {
    let Some(token) = token else { return Ok(Err(SignInRefusal::Unauthorized)) };
    let account = db
        .query_opt(
            "SELECT token_sha256, revoked_ms FROM driver_accounts WHERE driver_id = ?1",
            sql_params![driver_id],
        )?
        .map(|row| Ok::<_, StoreError>((row.text(0)?, row.opt_int(1)?)))
        .transpose()?;
    Ok(match account {
        Some((stored_hash, revoked_ms)) if stored_hash == token_hash(token) => match revoked_ms {
            Some(_) => Err(SignInRefusal::Revoked),
            None => Ok(()),
        },
        _ => Err(SignInRefusal::Unauthorized),
    })
}

impl SqliteStore {
    /// Registers a new driver with a new random token, which is returned (and never stored).
    pub fn register_driver(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        if !is_valid_driver_id(driver_id) {
            return Err(RegistryError::BadDriverId(driver_id.to_string()));
        }
        let token = crate::random_token();
        let inner = self.lock();
        if !insert_account(&mut SqliteSql(&inner.connection), driver_id, &token, now_ms)? {
            return Err(RegistryError::AlreadyRegistered(driver_id.to_string()));
        }
        self.announce(vec![FeedChange::DriverRegistered { driver_id: driver_id.to_string() }]);
        Ok(token)
    }

    /// Registers `driver_id` with the given token, or gives an existing driver that token (and
    /// lifts a revocation). For the demo driver and for fixed test and fleet set-ups.
    pub fn set_driver_token(&self, driver_id: &str, token: &str, now_ms: i64) -> Result<(), RegistryError> {
        if !is_valid_driver_id(driver_id) {
            return Err(RegistryError::BadDriverId(driver_id.to_string()));
        }
        let inner = self.lock();
        set_account_token(&mut SqliteSql(&inner.connection), driver_id, token, now_ms)?;
        self.announce(vec![FeedChange::DriverRegistered { driver_id: driver_id.to_string() }]);
        Ok(())
    }

    /// Issues a new random token for a registered driver (the old one stops working).
    pub fn rotate_driver_token(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        if !self.is_registered(driver_id)? {
            return Err(RegistryError::NotRegistered(driver_id.to_string()));
        }
        let token = crate::random_token();
        self.set_driver_token(driver_id, &token, now_ms)?;
        Ok(token)
    }

    /// Revokes a driver's token: its sign-ins are refused with `token_revoked`.
    pub fn revoke_driver(&self, driver_id: &str, now_ms: i64) -> Result<(), RegistryError> {
        let inner = self.lock();
        if !revoke_account(&mut SqliteSql(&inner.connection), driver_id, now_ms)? {
            return Err(RegistryError::NotRegistered(driver_id.to_string()));
        }
        self.announce(vec![FeedChange::DriverRevoked { driver_id: driver_id.to_string() }]);
        Ok(())
    }

    /// Whether `driver_id` is registered.
    pub fn is_registered(&self, driver_id: &str) -> Result<bool, StoreError> {
        let inner = self.lock();
        is_registered_in(&mut SqliteSql(&inner.connection), driver_id)
    }

    /// How many drivers are registered.
    pub fn registered_drivers(&self) -> Result<u64, StoreError> {
        let inner = self.lock();
        registered_drivers_in(&mut SqliteSql(&inner.connection))
    }

    /// Checks a sign-in. Unknown drivers and wrong tokens are refused alike, so driver ids
    /// cannot be probed.
    pub fn check_sign_in(
        &self,
        driver_id: &str,
        token: Option<&str>,
    ) -> Result<Result<(), SignInRefusal>, StoreError> {
        let inner = self.lock();
        check_sign_in_in(&mut SqliteSql(&inner.connection), driver_id, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_driver_signs_in_with_its_token_only() {
        let store = SqliteStore::in_memory();
        let token = store.register_driver("driver-7", 0).unwrap();
        assert_eq!(token.len(), 32, "128 bits as hex");
        assert_eq!(store.check_sign_in("driver-7", Some(&token)).unwrap(), Ok(()));
        assert_eq!(store.check_sign_in("driver-7", None).unwrap(), Err(SignInRefusal::Unauthorized));
        assert_eq!(store.check_sign_in("driver-7", Some("guess")).unwrap(), Err(SignInRefusal::Unauthorized));
        assert_eq!(store.check_sign_in("driver-8", Some(&token)).unwrap(), Err(SignInRefusal::Unauthorized));
        assert!(matches!(store.register_driver("driver-7", 0), Err(RegistryError::AlreadyRegistered(_))));
    }

    #[test]
    fn revoking_refuses_the_token_until_a_new_one_is_issued() {
        let store = SqliteStore::in_memory();
        let token = store.register_driver("driver-7", 0).unwrap();
        store.revoke_driver("driver-7", 1).unwrap();
        assert_eq!(store.check_sign_in("driver-7", Some(&token)).unwrap(), Err(SignInRefusal::Revoked));
        let new_token = store.rotate_driver_token("driver-7", 2).unwrap();
        assert_ne!(new_token, token);
        assert_eq!(store.check_sign_in("driver-7", Some(&new_token)).unwrap(), Ok(()));
        assert_eq!(store.check_sign_in("driver-7", Some(&token)).unwrap(), Err(SignInRefusal::Unauthorized));
    }

    #[test]
    fn tokens_are_stored_only_as_hashes() {
        let store = SqliteStore::in_memory();
        let token = store.register_driver("driver-7", 0).unwrap();
        let stored: String = store
            .lock()
            .connection
            .query_row("SELECT token_sha256 FROM driver_accounts", [], |row| row.get(0))
            .unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored.len(), 64);
    }

    #[test]
    fn driver_ids_are_plain_and_short() {
        assert!(is_valid_driver_id("demo-driver"));
        assert!(is_valid_driver_id("fleet_3.van-12"));
        for bad in ["", " ", "a b", "<script>", &"x".repeat(65), "ü"] {
            assert!(!is_valid_driver_id(bad), "{bad:?}");
        }
    }
}
