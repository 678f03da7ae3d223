//! The one error type of the core. Every fallible public function returns [`Result`]; nothing in the
//! crate panics on bad input, so embedders (the Python binding included) can map each variant to their own
//! error kind. A malformed plan is a [`PlanError`] that names where in the plan the fault is.

use thiserror::Error;

/// Everything that can go wrong between a plan and its results.
#[derive(Debug, Error)]
pub enum InferaError {
    /// The plan is malformed: a table or column is missing or of the wrong type, a value is out of range,
    /// or a reference points nowhere.
    #[error("invalid plan: {0}")]
    Plan(PlanError),
    /// The simulation reached a state its model forbids (a request that can never fit, say).
    #[error("simulation failed: {0}")]
    Simulation(String),
    /// Arrow could not build or read a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing a plan file failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, InferaError>;

/// Why a plan was rejected, and where: the table, column and row at fault, as far as one can be named
/// (a cross-table check names the row it found wrong; a check of the whole batch names no table).
///
/// `reason` is the complete sentence, naming the place in words as well, so the message reads on its own;
/// the location fields are for programs (the binding attaches them to the exception it raises).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct PlanError {
    pub table: Option<String>,
    pub column: Option<String>,
    pub row: Option<usize>,
    pub reason: String,
}

impl PlanError {
    /// An error with no location yet; add one with [`PlanError::table`], [`PlanError::column`] and
    /// [`PlanError::row`].
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            table: None,
            column: None,
            row: None,
            reason: reason.into(),
        }
    }

    pub fn table(self, table: &str) -> Self {
        Self {
            table: Some(table.to_string()),
            ..self
        }
    }

    pub fn column(self, column: &str) -> Self {
        Self {
            column: Some(column.to_string()),
            ..self
        }
    }

    pub fn row(self, row: usize) -> Self {
        Self {
            row: Some(row),
            ..self
        }
    }
}

impl From<PlanError> for InferaError {
    fn from(e: PlanError) -> Self {
        InferaError::Plan(e)
    }
}

/// What plan decoding and validation return; `?` turns it into [`Result`].
pub type PlanResult<T> = std::result::Result<T, PlanError>;

/// Shorthand for a [`PlanError`] with a formatted reason (locate it with `.table(..)`, `.column(..)`,
/// `.row(..)`).
macro_rules! plan_err {
    ($($arg:tt)*) => { $crate::error::PlanError::new(format!($($arg)*)) };
}
pub(crate) use plan_err;
