//! Associating the two Lambda functions with the Connect instance in every region (R4:
//! replication does not copy Lambda functions nor their association with the instance).
//!
//! Per region: `ListLambdaFunctions` (paginated, at most 25 per page), then
//! `AssociateLambdaFunction` only for the functions that are missing, each with that region's
//! ARN `arn:aws:lambda:{region}:{account}:function:{name}` (the functions exist with the same name
//! in both regions). The instance has the same id in both regions (R3).

use std::future::Future;
use std::sync::Arc;

use super::error::{DenylistError, ErrorClass};
use crate::connect::{ConnectApi, ConnectError};

/// `arn:aws:lambda:{region}:{account}:function:{name}`.
pub fn function_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account_id}:function:{name}")
}

/// Splits an instance ARN `arn:aws:connect:{region}:{account}:instance/{id}` into
/// `(region, account, id)`.
pub fn parse_instance_arn(arn: &str) -> Option<(String, String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("connect"), Some(region), Some(account), Some(res)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let id = res.strip_prefix("instance/")?;
    let id = id.split('/').next()?;
    if region.is_empty() || account.is_empty() || id.is_empty() {
        return None;
    }
    Some((region.to_string(), account.to_string(), id.to_string()))
}

/// The Connect calls this module needs, in one region.
pub trait LambdaAssociations: Send + Sync {
    fn region(&self) -> &str;
    /// Every associated function ARN (all pages).
    fn list_lambda_functions(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, DenylistError>> + Send;
    fn associate_lambda_function(
        &self,
        instance_id: &str,
        function_arn: &str,
    ) -> impl Future<Output = Result<(), DenylistError>> + Send;
}

/// [`LambdaAssociations`] over the project's Connect seam (`ConnectApi`), so these calls share
/// the scheduler's quotas, priorities and call metrics with every other Connect call.
#[derive(Clone)]
pub struct ConnectLambdaApi {
    connect: Arc<dyn ConnectApi>,
    region: String,
}

impl ConnectLambdaApi {
    pub fn new(connect: Arc<dyn ConnectApi>, region: impl Into<String>) -> Self {
        Self {
            connect,
            region: region.into(),
        }
    }
}

/// A Connect error as a denylist error of the same class.
fn from_connect(operation: &str, e: ConnectError) -> DenylistError {
    let class = match e.class() {
        crate::connect::ErrorClass::Terminal => ErrorClass::Terminal,
        crate::connect::ErrorClass::Waiting => ErrorClass::Waiting,
        crate::connect::ErrorClass::Transient => ErrorClass::Transient,
    };
    DenylistError::new(class, operation, e.to_string())
}

impl LambdaAssociations for ConnectLambdaApi {
    fn region(&self) -> &str {
        &self.region
    }

    async fn list_lambda_functions(&self, instance_id: &str) -> Result<Vec<String>, DenylistError> {
        self.connect
            .list_lambda_functions(&self.region, instance_id)
            .await
            .map_err(|e| from_connect("ListLambdaFunctions", e).in_region(&self.region))
    }

    async fn associate_lambda_function(
        &self,
        instance_id: &str,
        function_arn: &str,
    ) -> Result<(), DenylistError> {
        match self
            .connect
            .associate_lambda_function(&self.region, instance_id, function_arn)
            .await
        {
            Ok(()) => Ok(()),
            // Already associated (a race with another writer): the desired state holds.
            Err(ConnectError::Conflict(_)) => Ok(()),
            Err(e) => Err(from_connect("AssociateLambdaFunction", e).in_region(&self.region)),
        }
    }
}

/// One function in one region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionAssociation {
    pub name: String,
    pub arn: String,
    pub associated: bool,
    /// Associated by this pass.
    pub newly: bool,
}

/// The functions of one region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionAssociation {
    pub region: String,
    pub functions: Vec<FunctionAssociation>,
    pub errors: Vec<DenylistError>,
}

impl RegionAssociation {
    pub fn all_associated(&self) -> bool {
        self.errors.is_empty() && self.functions.iter().all(|f| f.associated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denylist::steps::ensure_associations;
    use parking_lot::Mutex;
    use std::collections::BTreeMap;

    /// A fake Connect in one region: associations, calls, a page size, optional failures.
    struct Fake {
        region: String,
        associated: Mutex<Vec<String>>,
        calls: Mutex<Vec<String>>,
        page: usize,
        fail_associate: Option<DenylistError>,
    }

    impl Fake {
        fn new(region: &str, associated: &[String]) -> Self {
            Self {
                region: region.into(),
                associated: Mutex::new(associated.to_vec()),
                calls: Mutex::new(Vec::new()),
                page: 25,
                fail_associate: None,
            }
        }
    }

    impl LambdaAssociations for Fake {
        fn region(&self) -> &str {
            &self.region
        }
        async fn list_lambda_functions(&self, _: &str) -> Result<Vec<String>, DenylistError> {
            let all = self.associated.lock().clone();
            // One call per page, at least one.
            for _ in 0..all.len().div_ceil(self.page.max(1)).max(1) {
                self.calls.lock().push("ListLambdaFunctions".into());
            }
            Ok(all)
        }
        async fn associate_lambda_function(&self, _: &str, arn: &str) -> Result<(), DenylistError> {
            self.calls
                .lock()
                .push(format!("AssociateLambdaFunction {arn}"));
            if let Some(e) = &self.fail_associate {
                return Err(e.clone());
            }
            self.associated.lock().push(arn.to_string());
            Ok(())
        }
    }

    fn names() -> Vec<String> {
        vec!["denylist-add".into(), "denylist-check".into()]
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn arns_per_region() {
        assert_eq!(
            function_arn("us-east-1", "123456789012", "denylist-check"),
            "arn:aws:lambda:us-east-1:123456789012:function:denylist-check"
        );
        assert_eq!(
            parse_instance_arn("arn:aws:connect:us-west-2:123456789012:instance/abc-1"),
            Some(("us-west-2".into(), "123456789012".into(), "abc-1".into()))
        );
        assert_eq!(parse_instance_arn("abc-1"), None);
        assert_eq!(
            parse_instance_arn("arn:aws:lambda:us-west-2:1:function:x"),
            None
        );
    }

    #[test]
    fn associates_only_missing_functions_in_each_region_with_its_arn() {
        let west_add = function_arn("us-west-2", "1", "denylist-add");
        let apis = vec![
            Fake::new("us-west-2", std::slice::from_ref(&west_add)),
            Fake::new("us-east-1", &[]),
        ];
        let r = block_on(ensure_associations(&apis, "i-1", "1", &names()));
        assert!(r.iter().all(RegionAssociation::all_associated));
        assert_eq!(
            apis[0].calls.lock().clone(),
            vec![
                "ListLambdaFunctions".to_string(),
                format!(
                    "AssociateLambdaFunction {}",
                    function_arn("us-west-2", "1", "denylist-check")
                ),
            ]
        );
        let east: Vec<String> = apis[1].calls.lock().clone();
        assert_eq!(east.len(), 3);
        assert!(east[1].contains("arn:aws:lambda:us-east-1:1:function:denylist-add"));
        assert!(r[1].functions.iter().all(|f| f.newly));
        assert!(!r[0].functions[0].newly);
        // Second pass: nothing to do.
        let again = block_on(ensure_associations(&apis, "i-1", "1", &names()));
        assert!(
            again
                .iter()
                .all(|r| r.functions.iter().all(|f| f.associated && !f.newly))
        );
        assert_eq!(apis[1].calls.lock().len(), 4);
    }

    #[test]
    fn failures_are_reported_per_region() {
        let mut bad = Fake::new("us-east-1", &[]);
        bad.fail_associate = Some(
            DenylistError::terminal("AssociateLambdaFunction", "no such function")
                .with_code("ResourceNotFoundException"),
        );
        let apis = vec![Fake::new("us-west-2", &[]), bad];
        let r = block_on(ensure_associations(&apis, "i-1", "1", &names()));
        assert!(r[0].all_associated());
        assert!(!r[1].all_associated());
        assert_eq!(r[1].errors.len(), 2);
        let by_region: BTreeMap<_, _> = r
            .iter()
            .map(|r| (r.region.clone(), r.all_associated()))
            .collect();
        assert!(by_region["us-west-2"]);
    }
}
