//! Classified errors of the denylist's cloud calls.
//!
//! The three classes of DESIGN.md: terminal (the spec or the account must change: Stalled, no
//! retry), waiting (retry after a known delay, not a failure), transient (retry with backoff).

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorClass {
    /// The spec or the account must change; retrying will not help.
    Terminal,
    /// Something is still settling (a table or replica being created); check again later.
    Waiting,
    /// Retry with backoff (throttling, 5xx, network).
    Transient,
}

/// One classified failure, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub struct DenylistError {
    pub class: ErrorClass,
    /// The AWS operation or the step (e.g. `CreateTable`, `ReplicaStatus`).
    pub operation: String,
    /// Region the call went to, when known.
    pub region: Option<String>,
    /// The service's error code (e.g. `ResourceInUseException`), when there is one.
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for DenylistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(r) = &self.region {
            write!(f, " in {r}")?;
        }
        write!(f, ": ")?;
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl DenylistError {
    pub fn new(class: ErrorClass, operation: &str, message: impl Into<String>) -> Self {
        Self {
            class,
            operation: operation.to_string(),
            region: None,
            code: None,
            message: message.into(),
        }
    }

    pub fn terminal(operation: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Terminal, operation, message)
    }

    pub fn waiting(operation: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Waiting, operation, message)
    }

    pub fn transient(operation: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, operation, message)
    }

    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn is_terminal(&self) -> bool {
        self.class == ErrorClass::Terminal
    }

    /// The error code of the service, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Classifies an SDK error by its service error code (DynamoDB and Connect share most codes).
    pub fn from_sdk<E, R>(operation: &str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e.message().unwrap_or("").to_string();
                let class = classify_code(&code);
                Self::new(class, operation, message).with_code(code)
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::transient(
                operation,
                format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(err)
                ),
            ),
            _ => Self::terminal(
                operation,
                format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(err)
                ),
            ),
        }
    }
}

/// Class of a service error code.
pub fn classify_code(code: &str) -> ErrorClass {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "InternalServerError"
        | "InternalServiceException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "TransactionConflictException"
        | "ReplicatedWriteConflictException"
        | "LimitExceededException"
        | "ServiceQuotaExceededException"
        | "TooManyRequestsException" => ErrorClass::Transient,
        "ResourceInUseException" => ErrorClass::Waiting,
        _ => ErrorClass::Terminal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify_code("ThrottlingException"), ErrorClass::Transient);
        assert_eq!(classify_code("ResourceInUseException"), ErrorClass::Waiting);
        assert_eq!(classify_code("AccessDeniedException"), ErrorClass::Terminal);
        assert_eq!(classify_code("ValidationException"), ErrorClass::Terminal);
    }

    #[test]
    fn display_names_the_place() {
        let e = DenylistError::terminal("CreateTable", "no")
            .in_region("us-east-1")
            .with_code("AccessDeniedException");
        assert_eq!(
            e.to_string(),
            "CreateTable in us-east-1: AccessDeniedException: no"
        );
    }
}
