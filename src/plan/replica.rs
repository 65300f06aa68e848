//! Instance replication: call ReplicateInstance once, then follow the per-region status (R1-R3).

use crate::connect::InstanceInfo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredReplica {
    pub instance_id: String,
    pub source_region: String,
    pub replica_region: String,
    pub replica_alias: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Call ReplicateInstance in the source region (idempotent through the client token).
    Replicate,
    /// Replication is under way; the status in the replica region is given.
    Wait { status: String },
    /// The replica is complete.
    Ready,
    /// Connect reports the replication failed.
    Failed { reason: String },
    /// The declaration cannot work; nothing is sent until it changes.
    Refuse { reason: String, rule: &'static str },
}

/// `paired(source, replica)` answers rule R1 from the configured pair table.
pub fn plan(
    desired: &DesiredReplica,
    observed: &InstanceInfo,
    paired: impl Fn(&str, &str) -> bool,
) -> Decision {
    if desired.source_region == desired.replica_region {
        return Decision::Refuse {
            reason: "replicaRegion must differ from sourceRegion".into(),
            rule: "R2",
        };
    }
    if !paired(&desired.source_region, &desired.replica_region) {
        return Decision::Refuse {
            reason: format!(
                "{} cannot replicate to {}: replication works only between paired regions",
                desired.source_region, desired.replica_region
            ),
            rule: "R1",
        };
    }
    if let Some(source) = &observed.source_region
        && source != &desired.source_region
    {
        return Decision::Refuse {
            reason: format!(
                "the instance is replicated with source region {source}, not {}",
                desired.source_region
            ),
            rule: "R7",
        };
    }
    if let Some(r) = observed
        .replication
        .iter()
        .find(|r| r.region == desired.replica_region)
    {
        return match r.status.as_str() {
            "INSTANCE_REPLICATION_COMPLETE" => Decision::Ready,
            "INSTANCE_REPLICATION_FAILED" | "INSTANCE_REPLICATION_DELETION_FAILED" => {
                Decision::Failed {
                    reason: r
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("replication to {} failed", r.region)),
                }
            }
            other => Decision::Wait {
                status: other.to_string(),
            },
        };
    }
    if let Some(other) = observed
        .replication
        .iter()
        .find(|r| r.region != desired.source_region)
    {
        return Decision::Refuse {
            reason: format!(
                "the instance is already replicated to {}; an instance has one replica",
                other.region
            ),
            rule: "R2",
        };
    }
    if observed.alias.as_deref().unwrap_or("").is_empty() {
        return Decision::Refuse {
            reason: "the source instance has no alias; ReplicateInstance requires one".into(),
            rule: "R2",
        };
    }
    if observed.status != "ACTIVE" {
        return Decision::Refuse {
            reason: format!("the source instance is {}, not ACTIVE", observed.status),
            rule: "R2",
        };
    }
    if observed.identity_management_type != "SAML" {
        return Decision::Refuse {
            reason: format!(
                "the source instance uses {} identity management; replication requires SAML",
                observed.identity_management_type
            ),
            rule: "R2",
        };
    }
    Decision::Replicate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::RegionReplication;

    fn pairs(a: &str, b: &str) -> bool {
        matches!(
            (a, b),
            ("us-west-2", "us-east-1") | ("us-east-1", "us-west-2")
        )
    }

    fn desired() -> DesiredReplica {
        DesiredReplica {
            instance_id: "i".into(),
            source_region: "us-west-2".into(),
            replica_region: "us-east-1".into(),
            replica_alias: "east".into(),
        }
    }

    fn instance() -> InstanceInfo {
        InstanceInfo {
            id: "i".into(),
            alias: Some("support".into()),
            status: "ACTIVE".into(),
            identity_management_type: "SAML".into(),
            ..Default::default()
        }
    }

    fn replicated(status: &str) -> InstanceInfo {
        InstanceInfo {
            source_region: Some("us-west-2".into()),
            replication: vec![
                RegionReplication {
                    region: "us-west-2".into(),
                    status: "INSTANCE_REPLICATION_COMPLETE".into(),
                    reason: None,
                },
                RegionReplication {
                    region: "us-east-1".into(),
                    status: status.into(),
                    reason: Some("boom".into()),
                },
            ],
            ..instance()
        }
    }

    #[test]
    fn an_unreplicated_saml_active_instance_is_replicated() {
        assert_eq!(plan(&desired(), &instance(), pairs), Decision::Replicate);
    }

    #[test]
    fn r1_unpaired_regions_are_refused() {
        let d = DesiredReplica {
            replica_region: "eu-west-2".into(),
            ..desired()
        };
        assert!(matches!(
            plan(&d, &instance(), pairs),
            Decision::Refuse { rule: "R1", .. }
        ));
    }

    #[test]
    fn r2_an_instance_without_alias_is_refused() {
        let i = InstanceInfo {
            alias: None,
            ..instance()
        };
        assert!(matches!(
            plan(&desired(), &i, pairs),
            Decision::Refuse { rule: "R2", .. }
        ));
    }

    #[test]
    fn r2_a_connect_managed_instance_is_refused() {
        let i = InstanceInfo {
            identity_management_type: "CONNECT_MANAGED".into(),
            ..instance()
        };
        assert!(
            matches!(plan(&desired(), &i, pairs), Decision::Refuse { rule: "R2", reason } if reason.contains("SAML"))
        );
    }

    #[test]
    fn r3_in_progress_is_waited_for_and_complete_is_ready() {
        assert!(matches!(
            plan(
                &desired(),
                &replicated("INSTANCE_REPLICATION_IN_PROGRESS"),
                pairs
            ),
            Decision::Wait { .. }
        ));
        assert_eq!(
            plan(
                &desired(),
                &replicated("INSTANCE_REPLICATION_COMPLETE"),
                pairs
            ),
            Decision::Ready
        );
    }

    #[test]
    fn r3_a_failed_replication_reports_connects_reason() {
        assert_eq!(
            plan(
                &desired(),
                &replicated("INSTANCE_REPLICATION_FAILED"),
                pairs
            ),
            Decision::Failed {
                reason: "boom".into()
            }
        );
    }

    #[test]
    fn r7_a_different_source_region_is_refused() {
        let i = InstanceInfo {
            source_region: Some("us-east-1".into()),
            ..replicated("INSTANCE_REPLICATION_COMPLETE")
        };
        assert!(matches!(
            plan(&desired(), &i, pairs),
            Decision::Refuse { rule: "R7", .. }
        ));
    }
}
