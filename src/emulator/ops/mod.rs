//! The Connect operations: one table ([`OPS`]) from which routing of (method, path) to an
//! operation, dispatch, the list of operation names, the error type of bad input and the Q1
//! default quotas are all derived; each operation's behaviour and rules (R1-R7, G1-G6, D1-D5,
//! A1-A4) live in the domain files next to this one.
//!
//! Adding an operation: write its handler in the domain file and add one entry to [`OPS`].

mod common;
mod distribution;
mod flows;
mod groups;
mod instances;
mod lambda;
mod metrics;
mod numbers;
mod routing;
mod search;
mod tags;
mod users;

use std::collections::HashMap;

use serde_json::Value;

use super::error::ApiError;
use super::model::{State, Timings};
use super::quota::Limit;

pub use flows::control_set_findings;
pub use users::control_create_user;

/// An operation's behaviour: reads the request, changes the state, answers the response body.
pub type Handler = fn(&mut State, &Ctx, &Req) -> Result<Value, ApiError>;

/// One operation the emulator serves.
pub struct Op {
    /// Name as in the model (call log, faults, quota buckets, page tokens, ClientTokens).
    pub name: &'static str,
    pub method: &'static str,
    /// The model's `@http` URI: `/`-separated segments, each a literal or a `{Label}`. Labels are
    /// percent-decoded and handed to the handler in order as [`Req::labels`].
    pub path: &'static str,
    pub handler: Handler,
    /// Error type of bad input (malformed JSON, member types, lengths, patterns, page sizes):
    /// `InvalidParameterException` where the operation declares it, else `InvalidRequestException`.
    pub bad_input: &'static str,
    /// Q1 default quota (before `--quota-scale`).
    pub quota: Limit,
}

/// A segment of an [`Op::path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Literal(&'a str),
    Label(&'a str),
}

impl Op {
    pub fn segments(&self) -> impl Iterator<Item = Seg<'static>> + use<> {
        let path: &'static str = self.path;
        path.strip_prefix('/').unwrap_or(path).split('/').map(|s| {
            match s.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
                Some(label) => Seg::Label(label),
                None => Seg::Literal(s),
            }
        })
    }

    /// Whether the (percent-decoded, non-empty) segments of a request path fit this path.
    fn matches(&self, segs: &[String]) -> bool {
        let mut n = 0;
        for (i, seg) in self.segments().enumerate() {
            match (seg, segs.get(i)) {
                (_, None) => return false,
                (Seg::Literal(l), Some(s)) if l != s => return false,
                _ => n += 1,
            }
        }
        n == segs.len()
    }

    fn labels(&self, segs: &[String]) -> Vec<String> {
        self.segments()
            .zip(segs)
            .filter(|(p, _)| matches!(p, Seg::Label(_)))
            .map(|(_, s)| s.clone())
            .collect()
    }
}

const GET: &str = "GET";
const PUT: &str = "PUT";
const POST: &str = "POST";
const DELETE: &str = "DELETE";
const REQUEST: &str = "InvalidRequestException";
const PARAMETER: &str = "InvalidParameterException";
const STANDARD: Limit = super::quota::STANDARD;
const USER_READS: Limit = super::quota::USER_READS;
/// Wave-2 reference §6: GetCurrentMetricData 5/s burst 8.
const METRIC_READS: Limit = Limit {
    rate: 5.0,
    burst: 8.0,
};
/// Wave-2 reference §6: ListQueues at the Service Quotas rate (10/s) with burst 5.
const QUEUE_READS: Limit = Limit {
    rate: 10.0,
    burst: 5.0,
};

const fn op(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    handler: Handler,
    bad_input: &'static str,
    quota: Limit,
) -> Op {
    Op {
        name,
        method,
        path,
        handler,
        bad_input,
        quota,
    }
}

/// Every operation the emulator serves. Several operations may share a path with different
/// methods; a literal segment and a label may overlap only with different methods (a test checks).
#[rustfmt::skip]
pub static OPS: &[Op] = &[
    // instances
    op("ReplicateInstance",                        POST,   "/instance/{InstanceId}/replicate",                               instances::replicate_instance,       REQUEST,   STANDARD),
    op("DescribeInstance",                         GET,    "/instance/{InstanceId}",                                         instances::describe_instance,        REQUEST,   STANDARD),
    op("ListInstances",                            GET,    "/instance",                                                      instances::list_instances,           REQUEST,   STANDARD),
    // traffic distribution groups
    op("CreateTrafficDistributionGroup",           PUT,    "/traffic-distribution-group",                                    groups::create_tdg,                  REQUEST,   STANDARD),
    op("DescribeTrafficDistributionGroup",         GET,    "/traffic-distribution-group/{TrafficDistributionGroupId}",       groups::describe_tdg,                REQUEST,   STANDARD),
    op("ListTrafficDistributionGroups",            GET,    "/traffic-distribution-groups",                                   groups::list_tdgs,                   REQUEST,   STANDARD),
    op("DeleteTrafficDistributionGroup",           DELETE, "/traffic-distribution-group/{TrafficDistributionGroupId}",       groups::delete_tdg,                  REQUEST,   STANDARD),
    op("UpdateTrafficDistribution",                PUT,    "/traffic-distribution/{Id}",                                     distribution::update_distribution,   REQUEST,   STANDARD),
    op("GetTrafficDistribution",                   GET,    "/traffic-distribution/{Id}",                                     distribution::get_distribution,      REQUEST,   STANDARD),
    op("AssociateTrafficDistributionGroupUser",    PUT,    "/traffic-distribution-group/{TrafficDistributionGroupId}/user",  groups::associate_tdg_user,          REQUEST,   STANDARD),
    op("DisassociateTrafficDistributionGroupUser", DELETE, "/traffic-distribution-group/{TrafficDistributionGroupId}/user",  groups::disassociate_tdg_user,       REQUEST,   STANDARD),
    op("ListTrafficDistributionGroupUsers",        GET,    "/traffic-distribution-group/{TrafficDistributionGroupId}/user",  groups::list_tdg_users,              REQUEST,   STANDARD),
    // users, routing profiles, hierarchy groups
    op("ListUsers",                                GET,    "/users-summary/{InstanceId}",                                    users::list_users,                   PARAMETER, USER_READS),
    op("SearchUsers",                              POST,   "/search-users",                                                  search::search_users,                PARAMETER, STANDARD),
    op("DescribeUser",                             GET,    "/users/{InstanceId}/{UserId}",                                   users::describe_user,                PARAMETER, USER_READS),
    op("CreateUser",                               PUT,    "/users/{InstanceId}",                                            users::create_user,                  PARAMETER, STANDARD),
    op("DeleteUser",                               DELETE, "/users/{InstanceId}/{UserId}",                                   users::delete_user,                  PARAMETER, STANDARD),
    op("ListRoutingProfiles",                      GET,    "/routing-profiles-summary/{InstanceId}",                         users::list_routing_profiles,        PARAMETER, STANDARD),
    op("ListUserHierarchyGroups",                  GET,    "/user-hierarchy-groups-summary/{InstanceId}",                    users::list_hierarchy_groups,        PARAMETER, STANDARD),
    // phone numbers
    op("ClaimPhoneNumber",                         POST,   "/phone-number/claim",                                            numbers::claim_phone,                PARAMETER, STANDARD),
    op("UpdatePhoneNumber",                        PUT,    "/phone-number/{PhoneNumberId}",                                  numbers::update_phone,               PARAMETER, STANDARD),
    op("ReleasePhoneNumber",                       DELETE, "/phone-number/{PhoneNumberId}",                                  numbers::release_phone,              PARAMETER, STANDARD),
    op("DescribePhoneNumber",                      GET,    "/phone-number/{PhoneNumberId}",                                  numbers::describe_phone,             PARAMETER, STANDARD),
    op("ListPhoneNumbersV2",                       POST,   "/phone-number/list",                                             numbers::list_phones,                PARAMETER, STANDARD),
    // Lambda functions
    op("AssociateLambdaFunction",                  PUT,    "/instance/{InstanceId}/lambda-function",                         lambda::associate_lambda,            PARAMETER, STANDARD),
    op("DisassociateLambdaFunction",               DELETE, "/instance/{InstanceId}/lambda-function",                         lambda::disassociate_lambda,         PARAMETER, STANDARD),
    op("ListLambdaFunctions",                      GET,    "/instance/{InstanceId}/lambda-functions",                        lambda::list_lambdas,                PARAMETER, STANDARD),
    // tags
    op("TagResource",                              POST,   "/tags/{resourceArn}",                                            tags::tag_resource,                  PARAMETER, STANDARD),
    op("UntagResource",                            DELETE, "/tags/{resourceArn}",                                            tags::untag_resource,                PARAMETER, STANDARD),
    op("ListTagsForResource",                      GET,    "/tags/{resourceArn}",                                            tags::list_tags,                     PARAMETER, STANDARD),
    // Real-time metrics (health gates): agent presence and queues
    op("ListQueues",                               GET,    "/queues-summary/{InstanceId}",                                   metrics::list_queues,                PARAMETER, QUEUE_READS),
    op("GetCurrentMetricData",                     POST,   "/metrics/current/{InstanceId}",                                  metrics::get_current_metric_data,    PARAMETER, METRIC_READS),
    // Preflight and cross-region routing (flows, modules, Lex bots, replication findings, global routing)
    op("CreateContactFlow",                        PUT,    "/contact-flows/{InstanceId}",                                    flows::create_flow,                  PARAMETER, STANDARD),
    op("DescribeContactFlow",                      GET,    "/contact-flows/{InstanceId}/{ContactFlowId}",                    flows::describe_flow,                PARAMETER, STANDARD),
    op("ListContactFlows",                         GET,    "/contact-flows-summary/{InstanceId}",                            flows::list_flows,                   PARAMETER, STANDARD),
    op("UpdateContactFlowContent",                 POST,   "/contact-flows/{InstanceId}/{ContactFlowId}/content",            flows::update_flow_content,          PARAMETER, STANDARD),
    op("CreateContactFlowModule",                  PUT,    "/contact-flow-modules/{InstanceId}",                             flows::create_module,                PARAMETER, STANDARD),
    op("DescribeContactFlowModule",                GET,    "/contact-flow-modules/{InstanceId}/{ContactFlowModuleId}",       flows::describe_module,              PARAMETER, STANDARD),
    op("ListContactFlowModules",                   GET,    "/contact-flow-modules-summary/{InstanceId}",                     flows::list_modules,                 PARAMETER, STANDARD),
    op("AssociateBot",                             PUT,    "/instance/{InstanceId}/bot",                                     flows::associate_bot,                REQUEST,   STANDARD),
    op("ListBots",                                 GET,    "/instance/{InstanceId}/bots",                                    flows::list_bots,                    REQUEST,   STANDARD),
    op("ListReplicationFindings",                  GET,    "/replication-findings/{InstanceId}",                             flows::list_replication_findings,    REQUEST,   STANDARD),
    op("GetCrossRegionRouting",                    GET,    "/cross-region-routing/{InstanceId}",                             routing::get_cross_region_routing,   REQUEST,   STANDARD),
    op("UpdateCrossRegionRouting",                 PUT,    "/cross-region-routing/{InstanceId}",                             routing::update_cross_region_routing, REQUEST,  STANDARD),
];

/// Names of the operations the emulator serves, in table order.
pub const OPERATIONS: [&str; OPS.len()] = {
    let mut names = [""; OPS.len()];
    let mut i = 0;
    while i < OPS.len() {
        names[i] = OPS[i].name;
        i += 1;
    }
    names
};

/// The operation of this name.
pub fn find(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.name == name)
}

pub enum Route {
    Op(&'static str, Vec<String>),
    /// The path is known but not with this method.
    WrongMethod,
    Unknown,
}

/// Routes on the raw path split on `/` before percent-decoding each segment (labels may be ARNs
/// with `%3A`/`%2F`).
pub fn route(method: &str, raw_path: &str) -> Route {
    let segs: Vec<String> = raw_path
        .strip_prefix('/')
        .unwrap_or(raw_path)
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Route::Unknown;
    }
    let mut known_path = false;
    for op in OPS.iter().filter(|o| o.matches(&segs)) {
        if op.method == method {
            return Route::Op(op.name, op.labels(&segs));
        }
        known_path = true;
    }
    if known_path {
        Route::WrongMethod
    } else {
        Route::Unknown
    }
}

/// The error type of bad input to `op` (see [`Op::bad_input`]).
pub fn param_error_type(op: &str) -> &'static str {
    find(op).map_or(PARAMETER, |o| o.bad_input)
}

pub struct Ctx<'a> {
    pub op: &'static str,
    pub region: &'a str,
    pub now: f64,
    pub t: &'a Timings,
    pub max_users: usize,
}

impl Ctx<'_> {
    pub fn bad(&self, msg: impl Into<String>) -> ApiError {
        ApiError::new(param_error_type(self.op), msg)
    }
}

pub struct Req {
    pub labels: Vec<String>,
    pub query: HashMap<String, String>,
    /// Every value of a repeated query parameter (UntagResource's `tagKeys`).
    pub query_all: Vec<(String, String)>,
    pub body: Value,
}

impl Req {
    fn q_int(&self, ctx: &Ctx, k: &str) -> Result<Option<i64>, ApiError> {
        match self.query.get(k) {
            None => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ctx.bad(format!("{k} must be an integer, got {s:?}"))),
        }
    }
}

type R = Result<Value, ApiError>;

pub fn execute(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    st.tick(ctx.now);
    match find(ctx.op) {
        Some(op) => (op.handler)(st, ctx, req),
        None => Err(ApiError::new(
            "UnknownOperationException",
            format!("unknown operation {}", ctx.op),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn routes_decode_labels_after_splitting() {
        match route(
            "GET",
            "/traffic-distribution-group/arn%3Aaws%3Aconnect%3Aus-west-2%3A123456789012%3Atraffic-distribution-group%2Fabc",
        ) {
            Route::Op(op, labels) => {
                assert_eq!(op, "DescribeTrafficDistributionGroup");
                assert_eq!(
                    labels,
                    vec!["arn:aws:connect:us-west-2:123456789012:traffic-distribution-group/abc"]
                );
            }
            _ => panic!("no route"),
        }
        assert!(matches!(route("PATCH", "/instance"), Route::WrongMethod));
        assert!(matches!(route("GET", "/nope"), Route::Unknown));
        assert!(matches!(route("GET", "/instance//x"), Route::Unknown));
        assert!(matches!(
            route("POST", "/phone-number/claim"),
            Route::Op("ClaimPhoneNumber", _)
        ));
        assert!(matches!(
            route("GET", "/phone-number/claim"),
            Route::Op("DescribePhoneNumber", _)
        ));
        assert!(matches!(
            route("DELETE", "/traffic-distribution-group/x/user"),
            Route::Op("DisassociateTrafficDistributionGroupUser", _)
        ));
    }

    /// A request path for `op` with label values `v0`, `v1`, ...
    fn sample_path(op: &Op) -> (String, Vec<String>) {
        let mut labels = Vec::new();
        let segs: Vec<String> = op
            .segments()
            .map(|s| match s {
                Seg::Literal(l) => l.to_string(),
                Seg::Label(_) => {
                    labels.push(format!("v{}", labels.len()));
                    labels.last().cloned().unwrap_or_default()
                }
            })
            .collect();
        (format!("/{}", segs.join("/")), labels)
    }

    #[test]
    fn every_operation_routes_to_itself_and_names_are_unique() {
        let mut names = HashSet::new();
        for op in OPS {
            assert!(names.insert(op.name), "{} appears twice in OPS", op.name);
            assert!(op.path.starts_with('/'), "{}: path {}", op.name, op.path);
            for s in op.segments() {
                match s {
                    Seg::Literal(l) => assert!(
                        !l.is_empty() && !l.contains(['{', '}']),
                        "{}: bad segment {l:?}",
                        op.name
                    ),
                    Seg::Label(l) => assert!(!l.is_empty(), "{}: empty label", op.name),
                }
            }
            let (path, labels) = sample_path(op);
            match route(op.method, &path) {
                Route::Op(name, got) => {
                    assert_eq!(name, op.name, "{} {path}", op.method);
                    assert_eq!(got, labels, "{} {path}", op.method);
                }
                _ => panic!("{} {path} does not route to {}", op.method, op.name),
            }
            assert!(std::ptr::eq(find(op.name).unwrap(), op));
            assert_eq!(param_error_type(op.name), op.bad_input);
            assert_eq!(super::super::quota::default_limit(op.name), op.quota);
        }
        assert_eq!(OPERATIONS.len(), OPS.len());
        assert!(OPERATIONS.iter().zip(OPS).all(|(n, o)| *n == o.name));
    }

    /// Two operations with the same method never fit the same path (first match is the only one).
    #[test]
    fn routes_are_unambiguous() {
        for (i, a) in OPS.iter().enumerate() {
            for b in &OPS[i + 1..] {
                if a.method != b.method {
                    continue;
                }
                let (sa, sb): (Vec<_>, Vec<_>) = (a.segments().collect(), b.segments().collect());
                let overlap = sa.len() == sb.len()
                    && sa.iter().zip(&sb).all(|p| match p {
                        (Seg::Literal(x), Seg::Literal(y)) => x == y,
                        _ => true,
                    });
                assert!(!overlap, "{} and {} overlap", a.name, b.name);
            }
        }
    }

    #[test]
    fn known_path_with_wrong_method_is_wrong_method() {
        let methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"];
        for op in OPS {
            let (path, _) = sample_path(op);
            for m in methods {
                let served = OPS.iter().any(|o| o.method == m && o.matches_path(&path));
                if !served {
                    assert!(
                        matches!(route(m, &path), Route::WrongMethod),
                        "{m} {path} should be WrongMethod"
                    );
                }
            }
        }
        assert!(matches!(route("GET", "/search-users"), Route::WrongMethod));
        assert!(matches!(
            route("POST", "/phone-number/x"),
            Route::WrongMethod
        ));
        assert!(matches!(
            route("PATCH", "/phone-number/claim"),
            Route::WrongMethod
        ));
        assert!(matches!(route("GET", "/tags"), Route::Unknown));
        assert!(matches!(route("GET", "/instance/x/"), Route::Unknown));
        assert!(matches!(route("GET", "/users/i/u/x"), Route::Unknown));
    }

    #[test]
    fn bad_input_types_and_quotas() {
        for op in OPS {
            // Operations that declare no InvalidParameterException (the model's error lists).
            let request_only = [
                "AssociateBot",
                "ListBots",
                "ListReplicationFindings",
                "GetCrossRegionRouting",
                "UpdateCrossRegionRouting",
            ];
            let expected = if op.name.contains("Instance")
                || op.name.contains("TrafficDistribution")
                || request_only.contains(&op.name)
            {
                "InvalidRequestException"
            } else {
                "InvalidParameterException"
            };
            assert_eq!(op.bad_input, expected, "{}", op.name);
        }
        let fast: Vec<&str> = OPS
            .iter()
            .filter(|o| o.quota != STANDARD)
            .map(|o| o.name)
            .collect();
        assert_eq!(
            fast,
            [
                "ListUsers",
                "DescribeUser",
                "ListQueues",
                "GetCurrentMetricData"
            ]
        );
        assert_eq!(
            param_error_type("NoSuchOperation"),
            "InvalidParameterException"
        );
    }

    impl Op {
        fn matches_path(&self, path: &str) -> bool {
            let segs: Vec<String> = path[1..].split('/').map(str::to_string).collect();
            self.matches(&segs)
        }
    }
}
