//! AWS restJson1 errors: status, `X-Amzn-ErrorType`, body `{"Message": ...}`.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub error_type: &'static str,
    pub message: String,
    /// Extra members of the error shape (e.g. `ResourceType`, `ResourceId`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: status_of(error_type),
            error_type,
            message: message.into(),
            extra: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn body(&self) -> Value {
        let mut m = self.extra.clone();
        // InvalidContactFlowException has no Message member, only `problems` (wave-2 §4.1).
        if self.error_type != "InvalidContactFlowException" {
            m.insert("Message".into(), json!(self.message));
        }
        m.insert("__type".into(), json!(self.error_type));
        Value::Object(m)
    }
}

/// HTTP status per error shape (`smithy.api#httpError` in the model).
pub fn status_of(error_type: &str) -> u16 {
    match error_type {
        "AccessDeniedException" => 403,
        "InternalServiceException" => 500,
        "InvalidParameterException" | "InvalidRequestException" => 400,
        "ResourceConflictException"
        | "ResourceInUseException"
        | "ResourceNotReadyException"
        | "DuplicateResourceException"
        | "IdempotencyException" => 409,
        "ResourceNotFoundException" | "UnknownOperationException" => 404,
        "ServiceQuotaExceededException" => 402,
        "ThrottlingException" | "LimitExceededException" | "TooManyRequestsException" => 429,
        "ServiceUnavailableException" | "ServiceUnavailable" => 503,
        "MethodNotAllowedException" => 405,
        _ => 400,
    }
}

pub fn invalid_request(msg: impl Into<String>) -> ApiError {
    ApiError::new("InvalidRequestException", msg)
}
pub fn invalid_parameter(msg: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterException", msg)
}
pub fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", msg)
}
