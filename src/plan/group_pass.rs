//! TrafficDistributionGroup's one decision, pure: ownership (a group found but not recorded is
//! managed only if it carries this object's owner tag, or none and may be adopted: it is then
//! tagged), the lifecycle (create, wait for ACTIVE, G2), the declared phone numbers and the
//! declared tags. Facts worth reading only in some situations are asked for ([`Read`]): the
//! group's tags (DescribeTrafficDistributionGroup) when ownership or tags are to be checked, the
//! instance's numbers once the group is ACTIVE.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::group::{
    DesiredGroup, Lifecycle, OWNER_TAG, Ownership, find, hold_taken, lifecycle, numbers, ownership,
    tags, verdict,
};
use super::{Ending, Note, PROGRESS_REQUEUE, Verdict};
use crate::api::{TrafficDistributionGroup, TrafficDistributionGroupStatus, reasons};
use crate::connect::{CreateGroup, GroupInfo, PhoneNumberInfo};

/// The instance and both regions a group lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub instance_id: String,
    pub source_region: String,
    pub replica_region: String,
}

pub struct Facts<'a> {
    pub obj: &'a TrafficDistributionGroup,
    pub desired: &'a DesiredGroup,
    pub placement: &'a Placement,
    /// The instance's groups and the region that listed them.
    pub groups: &'a [GroupInfo],
    pub served: &'a str,
    /// This object's owner tag value.
    pub owner: &'a str,
    /// The found group described (its tags), when asked for.
    pub described: Option<&'a GroupInfo>,
    /// The source region's phone numbers, when asked for.
    pub numbers: Option<&'a [PhoneNumberInfo]>,
    /// The object was Ready at its generation before this pass (a tag change found now was made
    /// outside the controller).
    pub was_settled: bool,
    pub resync: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// DescribeTrafficDistributionGroup of `arn` in `region` (tags).
    Described { region: String, arn: String },
    /// ListPhoneNumbersV2 in `region`.
    Numbers { region: String },
}

/// A planned write; each records its effect in status as it lands (`execute`).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// The owner tag on a group this object adopts.
    Claim {
        region: String,
        arn: String,
        owner: String,
        adopted: Option<Note>,
    },
    /// CreateTrafficDistributionGroup (the client token from the UID and `create-group`).
    Create {
        region: String,
        request: CreateGroup,
        placement: Placement,
    },
    /// UpdatePhoneNumber of `number` (id `phone_id`) to `target` (the group, or the instance).
    Number {
        region: String,
        phone_id: String,
        number: String,
        target: String,
        into: bool,
        note: Note,
    },
    Tag {
        region: String,
        arn: String,
        tags: BTreeMap<String, String>,
    },
    Untag {
        region: String,
        arn: String,
        keys: Vec<String>,
    },
}

impl Write {
    /// `[region] Operation detail`, as `status.plan` lists it.
    pub fn describe(&self) -> String {
        match self {
            Self::Claim {
                region, arn, owner, ..
            } => {
                format!("[{region}] TagResource {arn} {OWNER_TAG}={owner}")
            }
            Self::Create {
                region, request, ..
            } => format!(
                "[{region}] CreateTrafficDistributionGroup name={} instance={}",
                request.name, request.instance_id
            ),
            Self::Number {
                region,
                phone_id,
                number,
                target,
                ..
            } => {
                format!("[{region}] UpdatePhoneNumber {number} ({phone_id}) target={target}")
            }
            Self::Tag { region, arn, tags } => {
                format!("[{region}] TagResource {arn} {tags:?}")
            }
            Self::Untag { region, arn, keys } => {
                format!("[{region}] UntagResource {arn} {keys:?}")
            }
        }
    }
}

/// What the tags become once the tag writes landed.
#[derive(Debug, Clone, PartialEq)]
pub struct TagsLanding {
    pub managed_tags: Vec<String>,
    pub note: Note,
    /// Changed outside the controller: counted as a drift correction.
    pub drift: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub status: TrafficDistributionGroupStatus,
    pub notes: Vec<Note>,
    pub writes: Vec<Write>,
    pub ending: Ending,
    pub tags_landed: Option<TagsLanding>,
}

pub enum Decided {
    Read(Read),
    Plan(Box<Plan>),
}

fn record(status: &mut TrafficDistributionGroupStatus, g: &GroupInfo, p: &Placement) {
    status.id = Some(g.id.clone());
    status.arn = Some(g.arn.clone());
    status.region = Some(p.source_region.clone());
    status.status = Some(g.status.clone());
    status.is_default = Some(g.is_default);
    status.instance_arn = Some(g.instance_arn.clone());
    status.source_region = Some(p.source_region.clone());
    status.replica_region = Some(p.replica_region.clone());
}

/// The source region does not answer: the group's identity is recorded (a failover through the
/// replica needs nothing more), creating it and moving numbers wait for the source region.
fn source_down(d: &DesiredGroup, found: Option<&GroupInfo>, p: &Placement) -> Ending {
    let message = match found {
        Some(g) => format!(
            "group {} is {} (read through {}); phone numbers are checked once {} answers",
            d.name, g.status, p.replica_region, p.source_region
        ),
        None => format!(
            "group {} does not exist and can be created only in {}, which does not answer",
            d.name, p.source_region
        ),
    };
    Ending::new(
        Verdict::progressing(reasons::SOURCE_REGION_UNAVAILABLE, message),
        Duration::from_secs(30),
    )
}

/// The decision of one pass, from the status the previous pass left.
pub fn decide(f: &Facts<'_>, previous: &TrafficDistributionGroupStatus) -> Decided {
    let (obj, d, p) = (f.obj, f.desired, f.placement);
    let mut status = previous.clone();
    let notes = Vec::new();
    let mut writes = Vec::new();
    let end = |status, notes, writes, ending| {
        Decided::Plan(Box::new(Plan {
            status,
            notes,
            writes,
            ending,
            tags_landed: None,
        }))
    };
    let found = find(d, status.id.as_deref(), f.groups).cloned();
    if let Some(g) = &found {
        let recorded = status.id.as_deref() == Some(g.id.as_str());
        if !(recorded && status.owner.is_some()) {
            let Some(described) = f.described else {
                return Decided::Read(Read::Described {
                    region: f.served.to_string(),
                    arn: g.arn.clone(),
                });
            };
            let may_adopt = recorded || obj.spec.adopt || (obj.spec.default && g.is_default);
            match ownership(&described.tags, f.owner, may_adopt) {
                Ownership::Ours => {}
                Ownership::Claim => writes.push(Write::Claim {
                    region: f.served.to_string(),
                    arn: g.arn.clone(),
                    owner: f.owner.to_string(),
                    adopted: (!recorded).then(|| {
                        Note::normal(
                            reasons::ADOPTED,
                            format!("group {} ({}) is now managed by this object", g.name, g.arn),
                        )
                    }),
                }),
                Ownership::Foreign(other) => {
                    let ending = Ending::new(
                        Verdict::stalled(
                            reasons::ALREADY_EXISTS,
                            format!(
                                "group {} ({}) is managed by {other} (tag {OWNER_TAG}); two objects never manage one group",
                                g.name, g.arn
                            ),
                        ),
                        f.resync,
                    );
                    return end(status, notes, writes, ending);
                }
                Ownership::Unowned => {
                    let ending = Ending::new(
                        Verdict::stalled(
                            reasons::ALREADY_EXISTS,
                            format!(
                                "group {} ({}) exists and was not created by connect-gr; set spec.adopt: true to manage it",
                                g.name, g.arn
                            ),
                        ),
                        f.resync,
                    );
                    return end(status, notes, writes, ending);
                }
            }
            if writes.is_empty() {
                status.owner = Some(f.owner.to_string());
            }
        }
        record(&mut status, g, p);
    }
    if f.served != p.source_region {
        return end(status, notes, writes, source_down(d, found.as_ref(), p));
    }
    let g = match lifecycle(d, found.as_ref()) {
        Lifecycle::Create => {
            let mut tags = obj.spec.tags.clone();
            tags.insert(OWNER_TAG.to_string(), f.owner.to_string());
            writes.push(Write::Create {
                region: p.source_region.clone(),
                request: CreateGroup {
                    instance_id: p.instance_id.clone(),
                    name: d.name.clone(),
                    description: obj.spec.description.clone(),
                    tags,
                    client_token: String::new(),
                },
                placement: p.clone(),
            });
            let ending = Ending::wait(
                reasons::CREATING,
                format!("creating traffic distribution group {}", d.name),
            );
            return end(status, notes, writes, ending);
        }
        Lifecycle::WaitForDefault => {
            let ending = Ending::wait(
                reasons::WAITING_FOR_DEFAULT_GROUP,
                "the default group does not exist yet (ReplicateInstance creates it, rule R5)",
            );
            return end(status, notes, writes, ending);
        }
        Lifecycle::Wait { status: s } => {
            let ending = Ending::wait(reasons::GROUP_NOT_ACTIVE, format!("group is {s} (rule G2)"));
            return end(status, notes, writes, ending);
        }
        Lifecycle::Failed { status: s } => {
            let ending = Ending::new(
                Verdict::stalled(
                    reasons::GROUP_FAILED,
                    format!("Connect reports the group as {s}"),
                ),
                f.resync,
            );
            return end(status, notes, writes, ending);
        }
        Lifecycle::Active => match found {
            Some(g) => g,
            // Not expected (Active comes from a group found); never a panic on Connect's data.
            None => {
                let ending = Ending::wait(
                    reasons::WAITING,
                    "the group was reported ACTIVE but not found; looking again",
                );
                return end(status, notes, writes, ending);
            }
        },
    };
    // Declared numbers into the group; numbers the controller put there and no longer declared
    // back to the instance.
    let Some(claimed) = f.numbers else {
        return Decided::Read(Read::Numbers {
            region: p.source_region.clone(),
        });
    };
    let default_groups: BTreeSet<String> = f
        .groups
        .iter()
        .filter(|x| x.is_default)
        .map(|x| x.arn.clone())
        .collect();
    let managed: BTreeSet<String> = status.managed_phone_numbers.iter().cloned().collect();
    let plan = hold_taken(
        numbers(&d.phone_numbers, &managed, &g.arn, claimed),
        claimed,
        &default_groups,
        obj.spec.adopt,
    );
    for (id, n) in &plan.move_in {
        writes.push(Write::Number {
            region: p.source_region.clone(),
            phone_id: id.clone(),
            number: n.clone(),
            target: g.arn.clone(),
            into: true,
            note: Note::normal(
                reasons::PHONE_NUMBER_ADDED,
                format!("{n} moved into group {}", d.name),
            ),
        });
    }
    for (id, n) in &plan.move_out {
        writes.push(Write::Number {
            region: p.source_region.clone(),
            phone_id: id.clone(),
            number: n.clone(),
            target: g.instance_arn.clone(),
            into: false,
            note: Note::normal(
                reasons::PHONE_NUMBER_REMOVED,
                format!("{n} moved back to the instance"),
            ),
        });
    }
    // Declared tags set, tags the controller set and no longer declared removed, person-added
    // tags kept. Nothing declared and nothing set before: nothing to compare, no read.
    let mut tags_landed = None;
    if !(obj.spec.tags.is_empty() && status.managed_tags.is_empty()) {
        let Some(described) = f.described.filter(|x| x.arn == g.arn) else {
            return Decided::Read(Read::Described {
                region: p.source_region.clone(),
                arn: g.arn.clone(),
            });
        };
        let managed_tags: BTreeSet<String> = status.managed_tags.iter().cloned().collect();
        let tag_plan = tags(&obj.spec.tags, &managed_tags, &described.tags);
        let declared: Vec<String> = obj.spec.tags.keys().cloned().collect();
        if tag_plan.is_empty() {
            status.managed_tags = declared;
        } else {
            let keys: Vec<&str> = tag_plan
                .set
                .keys()
                .chain(tag_plan.remove.iter())
                .map(String::as_str)
                .collect();
            let note = if f.was_settled {
                Note::warning(
                    reasons::DRIFT_CORRECTED,
                    format!(
                        "tags changed outside the controller restored: {}",
                        keys.join(", ")
                    ),
                )
            } else {
                Note::normal(
                    reasons::TAGS_UPDATED,
                    format!("tags set or removed: {}", keys.join(", ")),
                )
            };
            tags_landed = Some(TagsLanding {
                managed_tags: declared,
                note,
                drift: f.was_settled,
            });
            if !tag_plan.set.is_empty() {
                writes.push(Write::Tag {
                    region: p.source_region.clone(),
                    arn: g.arn.clone(),
                    tags: tag_plan.set,
                });
            }
            if !tag_plan.remove.is_empty() {
                writes.push(Write::Untag {
                    region: p.source_region.clone(),
                    arn: g.arn.clone(),
                    keys: tag_plan.remove,
                });
            }
        }
    }
    let v = verdict(&plan, &d.name, &p.source_region, &p.replica_region);
    let requeue = if plan.move_in.is_empty() && plan.move_out.is_empty() {
        f.resync
    } else {
        PROGRESS_REQUEUE
    };
    Decided::Plan(Box::new(Plan {
        status,
        notes,
        writes,
        ending: Ending::new(v, requeue),
        tags_landed,
    }))
}

/// The effect of a landed write on status (the Create's identity is Connect's answer: see
/// `created`).
pub fn landed(status: &mut TrafficDistributionGroupStatus, notes: &mut Vec<Note>, w: &Write) {
    match w {
        Write::Claim { owner, adopted, .. } => {
            status.owner = Some(owner.clone());
            notes.extend(adopted.clone());
        }
        Write::Number {
            number, into, note, ..
        } => {
            let list = &mut status.managed_phone_numbers;
            list.retain(|n| n != number);
            if *into {
                list.push(number.clone());
                list.sort();
            }
            notes.push(note.clone());
        }
        Write::Create { .. } | Write::Tag { .. } | Write::Untag { .. } => {}
    }
}

/// The identity of a group Connect accepted to create goes into status at once.
pub fn created(
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
    id: &str,
    arn: &str,
    p: &Placement,
    name: &str,
    owner: &str,
) {
    status.id = Some(id.to_string());
    status.arn = Some(arn.to_string());
    status.source_region = Some(p.source_region.clone());
    status.replica_region = Some(p.replica_region.clone());
    status.region = Some(p.source_region.clone());
    status.status = Some("CREATION_IN_PROGRESS".into());
    status.owner = Some(owner.to_string());
    notes.push(Note::normal(
        reasons::CREATED,
        format!(
            "CreateTrafficDistributionGroup {name} in {}",
            p.source_region
        ),
    ));
}

#[cfg(test)]
#[path = "group_pass_tests.rs"]
mod tests;
