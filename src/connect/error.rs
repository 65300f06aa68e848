//! Classification of Connect errors into what the reconcilers do about them.

use std::time::Duration;

/// What a reconciler does with an error (DESIGN: terminal, waiting, transient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The spec (or the account) must change: Stalled, no retry until the object changes.
    Terminal,
    /// Retry after a known delay; not a failure (resource not ready, throttled).
    Waiting,
    /// Per-object exponential backoff.
    Transient,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConnectError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("in use: {0}")]
    InUse(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("service quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("transient failure: {0}")]
    Transient(String),
    /// The region did not answer within the call's timeouts (`Timeouts`): a connection, an
    /// attempt or the whole operation ran out. Retried like any transient failure.
    #[error("timed out: {0}")]
    TimedOut(String),
}

impl ConnectError {
    /// Maps an AWS error code (the `X-Amzn-ErrorType` shape name) and message to a variant.
    pub fn from_code(code: Option<&str>, message: impl Into<String>) -> Self {
        let message = message.into();
        match code.unwrap_or("") {
            "ResourceNotFoundException" => Self::NotFound(message),
            "ThrottlingException" | "TooManyRequestsException" | "LimitExceededException" => {
                Self::Throttled(message)
            }
            "ResourceConflictException" | "DuplicateResourceException" | "IdempotencyException" => {
                Self::Conflict(message)
            }
            "ResourceInUseException" => Self::InUse(message),
            "InvalidRequestException" | "InvalidParameterException" => Self::Invalid(message),
            "AccessDeniedException" => Self::AccessDenied(message),
            "ResourceNotReadyException" => Self::NotReady(message),
            "ServiceQuotaExceededException" => Self::QuotaExceeded(message),
            "" => Self::Transient(message),
            other => Self::Transient(format!("{other}: {message}")),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_)
            | Self::AccessDenied(_)
            | Self::QuotaExceeded(_)
            | Self::Conflict(_) => ErrorClass::Terminal,
            Self::Throttled(_) | Self::NotReady(_) => ErrorClass::Waiting,
            Self::NotFound(_) | Self::InUse(_) | Self::Transient(_) | Self::TimedOut(_) => {
                ErrorClass::Transient
            }
        }
    }

    /// Whether the error looks like the region is out (issue 25): a connection failure, a
    /// timeout or a 5xx. Throttling, NotFound and every other answer of the service are not.
    pub fn is_outage(&self) -> bool {
        const SERVER_SIDE: &[&str] = &[
            "InternalServiceException",
            "ServiceUnavailableException",
            "InternalServerException",
            "InternalFailure",
            "ServiceUnavailable",
        ];
        let m = match self {
            Self::TimedOut(_) => return true,
            Self::Transient(m) => m,
            _ => return false,
        };
        // `from_code` keeps an unknown error code in front of the message: a service answer,
        // an outage only when it is a server-side one. No code: no answer at all (connection
        // failure, timeout) or an unreadable one (a 5xx page from a load balancer).
        match m.split_once(": ") {
            Some((code, _)) if code.ends_with("Exception") || code.ends_with("Failure") => {
                SERVER_SIDE.contains(&code)
            }
            _ => true,
        }
    }

    /// The delay before a retry of a waiting error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.class() {
            ErrorClass::Waiting => Some(Duration::from_secs(5)),
            _ => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Throttled(m)
            | Self::Conflict(m)
            | Self::InUse(m)
            | Self::Invalid(m)
            | Self::AccessDenied(m)
            | Self::NotReady(m)
            | Self::QuotaExceeded(m)
            | Self::Transient(m)
            | Self::TimedOut(m) => m,
        }
    }

    /// The metric label for an outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Throttled(_) => "throttled",
            Self::Conflict(_) => "conflict",
            Self::InUse(_) => "in_use",
            Self::Invalid(_) => "invalid",
            Self::AccessDenied(_) => "access_denied",
            Self::NotReady(_) => "not_ready",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::Transient(_) => "transient",
            Self::TimedOut(_) => "timeout",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_waiting_not_failure() {
        assert_eq!(
            ConnectError::from_code(Some("ThrottlingException"), "slow down").class(),
            ErrorClass::Waiting
        );
    }

    #[test]
    fn invalid_request_is_terminal() {
        assert_eq!(
            ConnectError::from_code(Some("InvalidRequestException"), "x").class(),
            ErrorClass::Terminal
        );
    }

    #[test]
    fn unknown_codes_and_dispatch_failures_are_transient() {
        assert_eq!(
            ConnectError::from_code(Some("InternalServiceException"), "x").class(),
            ErrorClass::Transient
        );
        assert_eq!(
            ConnectError::from_code(None, "connection refused").class(),
            ErrorClass::Transient
        );
    }

    #[test]
    fn a_timeout_is_a_transient_outage() {
        let e = ConnectError::TimedOut("operation timeout (all attempts) after 4s".into());
        assert_eq!(e.class(), ErrorClass::Transient);
        assert!(e.is_outage());
        assert_eq!(e.outcome(), "timeout");
    }

    #[test]
    fn connection_failures_and_5xx_are_outages() {
        assert!(ConnectError::from_code(None, "connection refused").is_outage());
        assert!(ConnectError::from_code(Some("ServiceUnavailableException"), "x").is_outage());
        assert!(ConnectError::from_code(Some("InternalServiceException"), "x").is_outage());
    }

    #[test]
    fn throttling_not_found_and_rejections_are_not_outages() {
        for code in [
            "ThrottlingException",
            "TooManyRequestsException",
            "ResourceNotFoundException",
            "InvalidRequestException",
            "AccessDeniedException",
            "ResourceNotReadyException",
        ] {
            assert!(
                !ConnectError::from_code(Some(code), "x").is_outage(),
                "{code}"
            );
        }
    }

    #[test]
    fn resource_in_use_is_retried() {
        assert_eq!(
            ConnectError::from_code(Some("ResourceInUseException"), "numbers").class(),
            ErrorClass::Transient
        );
    }
}
