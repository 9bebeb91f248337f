//! Errors of the store and the diagnosis.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported backend.
    #[error("unsupported database url {0:?}: expected postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    // The sqlx errors below are shown, not chained as sources: sqlx's own Display already
    // repeats its source, and `{:#}` would print every message three times.
    #[error("migration failed: {}", describe_migrate(.0))]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database error: {}", describe(.0))]
    Database(sqlx::Error),
    /// A value that the schema cannot hold (a count above `i64::MAX`, …).
    #[error("value out of range: {0}")]
    OutOfRange(String),
    /// A stored value that does not parse (a status the code does not know, bad JSON, …).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A finished batch that contradicts itself (its code counts do not add up, …).
    #[error("invalid batch {batch_id}: {reason}")]
    InvalidBatch { batch_id: String, reason: String },
}

impl StoreError {
    /// Whether the database refused the statement because of a constraint or the status
    /// trigger (as opposed to a connection or syntax problem).
    pub fn is_constraint_violation(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(db)) = self else { return false };
        // Postgres: SQLSTATE class 23 (integrity constraint violation), which the status
        // trigger raises too. SQLite: the extended result codes of SQLITE_CONSTRAINT (19),
        // RAISE(ABORT) in a trigger included.
        let code = db.code().unwrap_or_default();
        if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
            code.starts_with("23")
        } else {
            code.parse::<u32>().is_ok_and(|c| c & 0xff == 19)
        }
    }
}

impl StoreError {
    /// What the database said when it refused a statement (a trigger's own message, or
    /// the constraint broken), without the wrapping.
    pub fn refusal(&self) -> String {
        match self {
            StoreError::Database(e) => describe(e),
            other => other.to_string(),
        }
    }

    /// Whether trying the same statement again later may succeed: the server was
    /// unreachable, a connection broke or timed out, a lock or serialisation conflict.
    /// Not: a batch the store refuses (a constraint, the status trigger, invalid values),
    /// a statement the database does not understand, a closed store: retrying those would
    /// only spin, so the writer gives up on them and stops the run.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                if self.is_constraint_violation() {
                    return false;
                }
                // Postgres: data exceptions (22) and syntax or access rule violations (42)
                // are the statement's fault; the rest (connection, shutdown, lock,
                // serialisation, resources) pass. SQLite: busy and locked pass.
                let code = db.code().unwrap_or_default();
                if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                    !(code.starts_with("22") || code.starts_with("42"))
                } else {
                    code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
                }
            }
            StoreError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Protocol(_)
            ),
            StoreError::UnsupportedUrl(_)
            | StoreError::Migrate(_)
            | StoreError::OutOfRange(_)
            | StoreError::Corrupt(_)
            | StoreError::InvalidBatch { .. } => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

/// An sqlx error in one line: the server's own message when there is one.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

fn describe_migrate(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => describe(inner),
        other => other.to_string(),
    }
}

/// Converts a count to the schema's signed 64-bit integer.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(format!("{what} = {value}")))
}

/// Converts a stored signed integer back to a count.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} = {value}")))
}

pub(crate) fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} = {value}")))
}
