//! CallerDenylist through its steps (issue 20), against the emulator (Connect) and moto
//! (DynamoDB): observe mode lists the table, entry and association writes and makes none;
//! switched to Full, the same driver makes them.

use std::sync::Arc;

use connect_gr::api::{conditions, reasons};
use connect_gr::reconcile::denylist::SdkDenylist;
use connect_gr::reconcile::driver::run_pass;
use k8s_openapi::jiff::Timestamp;

use super::{bed, count, find, store};
use crate::support::moto::Moto;

const DENYLIST: &str = "apiVersion: connectgr.io/v1alpha1\nkind: CallerDenylist\nmetadata:\n  name: denylist\n  annotations: {connectgr.io/management-policy: Observe}\nspec:\n  groupRef: {name: support-default}\n  tableName: DenylistingTable\n  numbers: [\"+12065550123\", \"+12065550124\"]\n  lambdaFunctions: {add: denylist-add, check: denylist-check}\n";

async fn table_exists(moto: &Moto) -> bool {
    moto.dynamodb("us-west-2")
        .describe_table()
        .table_name("DenylistingTable")
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_denylist_in_observe_mode_lists_its_writes_and_makes_none_until_set_to_full() {
    let mut bed = bed(5, &[]).await;
    let moto = Moto::start();
    bed.engine.denylist = Some(Arc::new(SdkDenylist::with_endpoint(
        moto.env()[0].1.clone(),
    )));
    let world = bed.objects.world.clone();
    world.apply_yaml(DENYLIST, "denylist").unwrap();
    let associations = || count(&bed.emulator, &["AssociateLambdaFunction"]);
    let lists = || count(&bed.emulator, &["ListLambdaFunctions"]);
    let (assoc_before, lists_before) = (associations(), lists());

    let obj = find(&world.denylists, "denylist");
    let out = run_pass(&bed.engine, &bed.objects, &obj, Timestamp::now(), 0).await;
    // Positive marker: the pass read Connect in both regions.
    assert_eq!(
        lists() - lists_before,
        2,
        "ListLambdaFunctions in both regions"
    );
    assert_eq!(
        associations(),
        assoc_before,
        "no association in observe mode"
    );
    assert!(!table_exists(&moto).await, "no table in observe mode");
    let plan = out.status.plan.clone().expect("status.plan");
    assert_eq!(plan.total, 5, "{plan:?}");
    assert_eq!(plan.calls[0], "[us-west-2] CreateTable DenylistingTable");
    for region in ["us-west-2", "us-east-1"] {
        for f in ["denylist-add", "denylist-check"] {
            let call = format!(
                "[{region}] AssociateLambdaFunction arn:aws:lambda:{region}:123456789012:function:{f}"
            );
            assert!(plan.calls.contains(&call), "{call} not in {plan:?}");
        }
    }
    let ready = conditions::get(&out.status.conditions, conditions::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::OBSERVE_ONLY)
    );
    store(&world.denylists, "denylist", out.status.clone());

    // Full: the same steps make the planned writes, then the entries once the table is ACTIVE.
    world
        .apply_yaml(&DENYLIST.replace("Observe", "Full"), "denylist")
        .unwrap();
    let mut managed = Vec::new();
    for _ in 0..10 {
        let obj = find(&world.denylists, "denylist");
        let out = run_pass(&bed.engine, &bed.objects, &obj, Timestamp::now(), 0).await;
        assert!(out.status.plan.is_none(), "no plan outside observe mode");
        managed = out.status.managed_numbers.clone();
        store(&world.denylists, "denylist", out.status);
        if managed.len() == 2 {
            break;
        }
    }
    assert_eq!(managed, vec!["+12065550123", "+12065550124"]);
    assert!(table_exists(&moto).await);
    assert_eq!(
        associations() - assoc_before,
        4,
        "each function once per region"
    );
}
