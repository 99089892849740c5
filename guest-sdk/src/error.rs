//! The one error type guest authors meet: a message. Anything displayable
//! converts into it, so `?` works in `bind`, `tag` and helper code.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

/// `Result` with the SDK's `Error`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self { Error(e.to_string()) }
        }
    )*};
}
from_display!(
    String,
    &str,
    crate::row::RowError,
    crate::codec::DecodeError,
    serde_json::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError
);
