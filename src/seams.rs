//! The module seams, checked: the pure planners import no I/O and never read the clock, the
//! reconcilers never reach into the emulator, and the emulator shares no code with the side it
//! is tested against (DESIGN.md, "Principles").

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources(dir: &str) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for entry in std::fs::read_dir(dir).expect("read src dir").flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&p).expect("read source");
                    out.push((p, text));
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir),
            &mut out,
        );
        assert!(!out.is_empty(), "no sources under src/{dir}");
        out
    }

    /// Every (file, line) under `dir` that names one of `forbidden` outside a comment.
    fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for (path, text) in sources(dir) {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for f in forbidden {
                    if code.contains(f) {
                        found.push(format!("{}:{}: {f}", path.display(), n + 1));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_planners_import_no_runtime_no_sdk_no_emulator_and_never_read_the_clock() {
        let forbidden = [
            "tokio",
            "aws_sdk",
            "aws_smithy",
            "aws_config",
            "kube::Client",
            "kube::Api",
            "crate::emulator",
            "crate::connect::sdk",
            "crate::reconcile",
            "Timestamp::now",
            "Instant::now",
            "SystemTime",
            "Utc::now",
            "async fn",
        ];
        assert_eq!(offenders("plan", &forbidden), Vec::<String>::new());
    }

    #[test]
    fn the_denylist_planner_imports_no_runtime_no_sdk_and_never_reads_the_clock() {
        let forbidden = [
            "tokio",
            "aws_sdk",
            "aws_smithy",
            "aws_config",
            "crate::connect",
            "crate::reconcile",
            "super::steps",
            "super::dynamo",
            "now_rfc3339",
            "Timestamp::now",
            "Instant::now",
            "SystemTime",
            "async fn",
            ".await",
        ];
        let found: Vec<String> = offenders("denylist", &forbidden)
            .into_iter()
            .filter(|f| f.contains("/denylist/plan.rs:"))
            .collect();
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn the_reconcilers_never_reach_into_the_emulator() {
        assert_eq!(
            offenders("reconcile", &["crate::emulator", "emulator::"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_emulator_shares_no_code_with_the_side_it_is_tested_against() {
        let forbidden = [
            "crate::api",
            "crate::plan",
            "crate::connect",
            "crate::reconcile",
            "crate::local",
        ];
        assert_eq!(offenders("emulator", &forbidden), Vec::<String>::new());
    }

    #[test]
    fn the_api_types_do_no_io() {
        let forbidden = ["tokio", "aws_sdk", "kube::Client", "kube::Api", "reqwest"];
        assert_eq!(offenders("api", &forbidden), Vec::<String>::new());
    }
}
