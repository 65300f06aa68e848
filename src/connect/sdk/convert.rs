//! Between the SDK's wire types and the crate's model: error classification and the shapes of
//! distributions and groups.

use std::collections::BTreeMap;

use aws_sdk_connect::types as t;

use aws_sdk_connect::error::ProvideErrorMetadata;

use crate::connect::{ConnectError, GroupInfo};

pub(super) fn classify<E, R>(err: aws_sdk_connect::error::SdkError<E, R>) -> ConnectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        aws_sdk_connect::error::SdkError::ServiceError(se) => {
            let e = se.err();
            ConnectError::from_code(e.code(), e.message().unwrap_or("").to_string())
        }
        // The SDK's connect, attempt and operation timeouts: the region did not answer in time.
        aws_sdk_connect::error::SdkError::TimeoutError(_) => ConnectError::TimedOut(format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        )),
        aws_sdk_connect::error::SdkError::DispatchFailure(d) if d.is_timeout() => {
            ConnectError::TimedOut(format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ))
        }
        _ => {
            let code = err.code().map(str::to_string);
            let msg = format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            );
            ConnectError::from_code(code.as_deref(), msg)
        }
    }
}

pub(super) fn dist_map(d: &[t::Distribution]) -> BTreeMap<String, i32> {
    d.iter()
        .map(|d| (d.region().to_string(), d.percentage()))
        .collect()
}

pub(super) fn dists(m: &BTreeMap<String, i32>) -> Vec<t::Distribution> {
    m.iter()
        .map(|(r, p)| {
            t::Distribution::builder()
                .region(r)
                .percentage(*p)
                .build()
                .expect("region and percentage set")
        })
        .collect()
}

pub(super) fn group_info(g: &t::TrafficDistributionGroup) -> GroupInfo {
    GroupInfo {
        id: g.id().unwrap_or_default().into(),
        arn: g.arn().unwrap_or_default().into(),
        name: g.name().unwrap_or_default().into(),
        description: g.description().map(str::to_string),
        instance_arn: g.instance_arn().unwrap_or_default().into(),
        status: g
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        is_default: g.is_default(),
        tags: g
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}
