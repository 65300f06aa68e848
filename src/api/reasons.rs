//! Every condition reason and Event reason the controller writes, in one place. Users match on
//! them (`kubectl wait`, alerts on Events), so they are part of the API: add freely, rename none.

// Ready
pub const RECONCILED: &str = "Reconciled";

// Reconciling: waiting for something else
pub const REPLICA_NOT_FOUND: &str = "ReplicaNotFound";
pub const WAITING_FOR_REPLICA: &str = "WaitingForReplica";
pub const INSTANCE_NOT_REPLICATED: &str = "InstanceNotReplicated";
pub const GROUP_NOT_FOUND: &str = "GroupNotFound";
pub const WAITING_FOR_GROUP: &str = "WaitingForGroup";
pub const WAITING_FOR_DEFAULT_GROUP: &str = "WaitingForDefaultGroup";
pub const GROUP_NOT_ACTIVE: &str = "GroupNotActive";
pub const WAITING_FOR_REPLICATION: &str = "WaitingForReplication";
pub const WAITING: &str = "Waiting";
/// The source region does not answer: what could be read was read through the replica region;
/// what only the source region can do (create a group, move numbers) waits for it.
pub const SOURCE_REGION_UNAVAILABLE: &str = "SourceRegionUnavailable";

// Reconciling: work in progress
pub const REPLICATING: &str = "Replicating";
pub const CREATING: &str = "Creating";
pub const ASSOCIATING: &str = "Associating";
pub const ROLLING_OUT: &str = "RollingOut";
pub const APPLIED: &str = "Applied";
pub const MOVING_NUMBERS: &str = "MovingPhoneNumbers";
pub const CREATING_TABLE: &str = "CreatingTable";
pub const DELETING: &str = "Deleting";

// Reconciling: an error that is retried
pub const RETRYING_AFTER_ERROR: &str = "RetryingAfterError";
/// A read of another Kubernetes object failed (RBAC, API server unavailable): retried, and
/// nothing is written to Connect on the strength of it.
pub const KUBERNETES_READ_FAILED: &str = "KubernetesReadFailed";

// Lifecycle controls (annotations)
/// Observe mode: Ready=False while Connect differs from the spec; `status.plan` lists the calls.
pub const OBSERVE_ONLY: &str = "ObserveOnly";
/// `connectgr.io/paused`: the object is left alone (condition `Paused`).
pub const PAUSED: &str = "Paused";
pub const RESUMED: &str = "Resumed";
pub const INVALID_ANNOTATION: &str = "InvalidAnnotation";
/// A group with the declared name exists and belongs to someone else (or to no one).
pub const ALREADY_EXISTS: &str = "AlreadyExists";
pub const ADOPTED: &str = "Adopted";

// Stalled: the spec (or the account) must change
pub const UNKNOWN_USERS: &str = "UnknownUsers";
pub const PHONE_NUMBER_NOT_CLAIMED: &str = "PhoneNumberNotClaimed";
pub const GROUP_FAILED: &str = "GroupFailed";
pub const RESOURCE_CONFLICT: &str = "ResourceConflict";
pub const REPLICATION_FAILED: &str = "ReplicationFailed";
pub const INVALID_REPLICA: &str = "InvalidReplica";
pub const NO_DYNAMODB: &str = "NoDynamoDB";
pub const DENYLIST_REJECTED: &str = "DenylistRejected";
/// Prefix of a rule-specific refusal, e.g. `RejectedD4`.
pub const REJECTED_PREFIX: &str = "Rejected";
/// Prefix of a Connect rejection, e.g. `ConnectInvalidRequest`.
pub const CONNECT_PREFIX: &str = "Connect";

// Events for actions taken (published once per action)
pub const CREATED: &str = "Created";
pub const REPLICATION_STARTED: &str = "ReplicationStarted";
pub const PHONE_NUMBER_ADDED: &str = "PhoneNumberAdded";
pub const PHONE_NUMBER_REMOVED: &str = "PhoneNumberRemoved";
pub const TAGS_UPDATED: &str = "TagsUpdated";
pub const MEMBERSHIP_UPDATED: &str = "MembershipUpdated";
pub const TRAFFIC_SHIFTED: &str = "TrafficShifted";
pub const DRIFT_CORRECTED: &str = "DriftCorrected";
/// A change made outside the controller: reported (Warning Event, `status.drift`) and, while it
/// is left alone, the Ready=False reason (Reconciling=False, Stalled=False: nothing in progress).
pub const DRIFT_DETECTED: &str = "DriftDetected";
/// A reported drift is gone without a correction (Connect was put back, or the spec changed).
pub const DRIFT_RESOLVED: &str = "DriftResolved";
pub const DENYLIST_TABLE: &str = "DenylistTable";
pub const DENYLIST_ENTRIES: &str = "DenylistEntries";
pub const RELEASED: &str = "Released";

// Health-gated rollouts
/// Stalled: a gated rollout hit failureLimit with onFailure Abort; the starting split is back.
pub const ROLLOUT_ABORTED: &str = "RolloutAborted";
/// Reconciling (not Ready): a gate failed, is inconclusive or waits for approval, or
/// onFailure Pause holds the step until connectgr.io/resume.
pub const ROLLOUT_PAUSED: &str = "RolloutPaused";
/// Warning Event: one gate check failed or was inconclusive.
pub const GATE_FAILED: &str = "GateFailed";
/// Normal Event: a gated rollout resumed on connectgr.io/resume.
pub const ROLLOUT_RESUMED: &str = "RolloutResumed";
/// Stalled: a webhook gate's host is outside `--allowed-webhook-hosts` (or its URL is not
/// https://); no gate is asked and the split does not move.
pub const WEBHOOK_HOST_NOT_ALLOWED: &str = "WebhookHostNotAllowed";
// Preflight and cross-region routing
/// FailoverReady=True: no preflight finding is blocking.
pub const NO_BLOCKING_FINDINGS: &str = "NoBlockingFindings";
/// FailoverReady=False: blocking findings (their count in the message).
pub const BLOCKING_FINDINGS: &str = "BlockingFindings";
/// The preflight reads failed (FailoverReady=Unknown).
pub const PREFLIGHT_UNKNOWN: &str = "PreflightUnknown";
/// A TrafficDistribution would move telephony into a region with blocking findings.
pub const PREFLIGHT_BLOCKING: &str = "PreflightBlocking";
/// The instance is not enabled for global routing (crossRegionRouting cannot be applied).
pub const GLOBAL_ROUTING_UNAVAILABLE: &str = "GlobalRoutingUnavailable";
/// UpdateCrossRegionRouting was sent (Normal).
pub const CROSS_REGION_ROUTING_CHANGED: &str = "CrossRegionRoutingChanged";

// FailoverDrill (issue 22): Events of a run, and the conditions while one is on.
/// A run started (Normal).
pub const DRILL_STARTED: &str = "DrillStarted";
/// A run held its target and reverted to the declared split (Normal).
pub const DRILL_SUCCEEDED: &str = "DrillSucceeded";
/// A gate failed (or the shift could not complete): reverted early (Warning).
pub const DRILL_ABORTED: &str = "DrillAborted";
/// A run was not started: why is in the message; nothing was written (Warning).
pub const DRILL_SKIPPED: &str = "DrillSkipped";
/// The revert did not complete in time; the controller keeps reverting (Warning, Stalled).
pub const DRILL_FAILED: &str = "DrillFailed";
/// A run that had failed reached the declared split at last (Normal).
pub const DRILL_REVERTED: &str = "DrillReverted";
/// Condition reason while a run is on (drill and distribution).
pub const DRILL_RUNNING: &str = "DrillRunning";
/// A drill's target is the split its distribution declares (a check admission cannot make).
pub const INVALID_TARGET: &str = "InvalidTarget";
/// A drill's schedule or time zone cannot be used (checks admission cannot make in full).
pub const INVALID_SCHEDULE: &str = "InvalidSchedule";
