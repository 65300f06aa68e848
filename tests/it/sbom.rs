//! The image's CycloneDX SBOM (`scripts/image.sh sbom`, written by the image build to
//! `$CARGO_TARGET_DIR/image/sbom.cdx.json`) against Cargo.lock: every locked crate is listed with
//! its version, a licence and its purl, and nothing else is.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::support::testbed::repo_root;

/// The `[[package]]` entries of Cargo.lock: (name, version) -> checksum (if from a registry).
fn locked_packages() -> BTreeMap<(String, String), Option<String>> {
    let text = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap();
    let mut out = BTreeMap::new();
    for block in text.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{key} = \""))
                    .and_then(|v| v.strip_suffix('"'))
                    .map(str::to_string)
            })
        };
        out.insert(
            (field("name").unwrap(), field("version").unwrap()),
            field("checksum"),
        );
    }
    out
}

fn sbom() -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sbom.cdx.json");
    let st = Command::new("bash")
        .arg(repo_root().join("scripts/image.sh"))
        .arg("sbom")
        .arg(&path)
        .status()
        .expect("scripts/image.sh sbom runs");
    assert!(st.success());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn the_sbom_lists_every_crate_in_cargo_lock_with_its_version_licence_and_purl() {
    let bom = sbom();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    let root = &bom["metadata"]["component"];
    assert_eq!(root["name"], "connect-gr");
    assert_eq!(root["licenses"][0]["expression"], "Apache-2.0");

    let locked = locked_packages();
    let mut listed = BTreeSet::new();
    for c in bom["components"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_string();
        let version = c["version"].as_str().unwrap().to_string();
        assert_eq!(c["purl"], format!("pkg:cargo/{name}@{version}"));
        let licences = c["licenses"].as_array().unwrap();
        assert!(
            licences
                .iter()
                .any(|l| l["expression"].as_str().is_some_and(|e| !e.is_empty())
                    || l["license"]["name"].as_str().is_some_and(|e| !e.is_empty())),
            "{name} {version}: no licence"
        );
        let key = (name, version);
        let checksum = locked
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} is not in Cargo.lock"));
        if let Some(sum) = checksum {
            assert_eq!(c["hashes"][0]["content"], sum.as_str(), "{key:?}");
        }
        assert!(listed.insert(key.clone()), "{key:?} listed twice");
    }
    listed.insert((
        root["name"].as_str().unwrap().into(),
        root["version"].as_str().unwrap().into(),
    ));
    let locked_keys: BTreeSet<_> = locked.keys().cloned().collect();
    assert_eq!(listed, locked_keys);
}

#[test]
fn the_sbom_is_reproducible() {
    assert_eq!(sbom(), sbom());
}
