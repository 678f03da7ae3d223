//! The one error type of the core. Every fallible public function returns [`Result`]; nothing in the
//! crate panics on bad input, so embedders (the Python binding included) can map each variant to their own
//! error kind.

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

/// What is wrong with a plan, and where when it is known: the table, the column and the row.
#[derive(Debug, Error)]
#[error("{reason}")]
pub struct PlanError {
    pub table: Option<String>,
    pub column: Option<String>,
    pub row: Option<usize>,
    pub reason: String,
}

pub type Result<T> = std::result::Result<T, InferaError>;

/// Shorthand for a [`InferaError::Plan`] with a formatted message.
macro_rules! plan_err {
    ($($arg:tt)*) => {
        $crate::error::InferaError::Plan($crate::error::PlanError {
            table: None,
            column: None,
            row: None,
            reason: format!($($arg)*),
        })
    };
}
pub(crate) use plan_err;
