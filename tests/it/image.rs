//! The container image (`make image`, `scripts/image.sh`), run the way a container runtime runs
//! it: unpacked by umoci into an OCI runtime bundle (its config.json generated from the image's
//! config: user, entrypoint, environment) and started by runc with a read-only root filesystem,
//! no capabilities and no new privileges (what Pod Security `restricted` asks of the pod), in the
//! host's network namespace (the test bed and the emulator listen on 127.0.0.1).
//!
//! The image is built once per test process by `scripts/image.sh` (cargo finds the release binary
//! fresh and the packaging is skipped by input hash when nothing changed). `make test` runs
//! `make image` first and sets `CONNECT_GR_IMAGE_PREBUILT=1`, so no cargo runs inside the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use crate::e2e::{apply, start_emulator, wait_ready};
use crate::support::rbac::{self, SERVICE_ACCOUNT};
use crate::support::testbed::{TestBed, repo_root};

pub(crate) struct Image {
    /// `DIR:REF`, what umoci, skopeo and podman call an image in an OCI layout.
    pub(crate) oci: String,
    pub(crate) info: serde_json::Value,
}

/// The cargo target directory of this test binary (`TARGET/debug/deps/it-HASH`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf()
}

/// The image of the current sources, built (or found up to date) by `scripts/image.sh`.
pub(crate) fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let target = target_dir();
        let started = Instant::now();
        // `make test` has just run `make image` and says so; otherwise build (or find up to date).
        if std::env::var("CONNECT_GR_IMAGE_PREBUILT").as_deref() != Ok("1") {
            let out = Command::new("bash")
                .arg(repo_root().join("scripts/image.sh"))
                .env("CARGO_TARGET_DIR", &target)
                .stdin(Stdio::null())
                .output()
                .expect("run scripts/image.sh");
            assert!(
                out.status.success(),
                "scripts/image.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            target.join("image/image.json").is_file(),
            "no image in {}: run `make image`",
            target.display()
        );
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(target.join("image/image.json")).unwrap())
                .unwrap();
        eprintln!(
            "image: {} {} ({} bytes compressed) ready in {:.1}s",
            info["ref"],
            info["digest"],
            info["compressed_bytes"],
            started.elapsed().as_secs_f64()
        );
        Image {
            oci: format!(
                "{}:{}",
                info["layout"].as_str().unwrap(),
                info["ref"].as_str().unwrap()
            ),
            info,
        }
    })
}

/// An OCI runtime bundle unpacked from the image by umoci.
pub(crate) struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    pub(crate) fn unpack(image: &Image) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("connect-gr-bundle-")
            .tempdir()
            .unwrap();
        let bundle = dir.path().join("bundle");
        let out = Command::new("umoci")
            .args(["unpack", "--image", &image.oci])
            .arg(&bundle)
            .output()
            .expect("umoci runs (make tools installs it)");
        assert!(
            out.status.success(),
            "umoci unpack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Bundle { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    pub(crate) fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    /// The runtime configuration umoci derived from the image's config.
    pub(crate) fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path().join("config.json")).unwrap()).unwrap()
    }
}

/// What to run in a container of the image (the image's user; the entrypoint is in `args`).
#[derive(Default)]
pub(crate) struct RunSpec<'a> {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// (host directory, container path), mounted read-only.
    pub(crate) mounts: Vec<(PathBuf, &'a str)>,
}

/// A running container; `runc delete --force` on drop.
pub(crate) struct Container {
    id: String,
    child: Child,
    _bundle: Bundle,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "--force", &self.id])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ID_PREFIX: &str = "connect-gr-it-";

/// Containers left by test processes that are gone (killed before their drop ran).
fn sweep_containers() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(out) = Command::new("runc").args(["list", "-q"]).output() else {
            return;
        };
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(owner) = id
                .strip_prefix(ID_PREFIX)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if owner != std::process::id() && !Path::new(&format!("/proc/{owner}")).exists() {
                let _ = Command::new("runc")
                    .args(["delete", "--force", id])
                    .output();
            }
        }
    });
}

impl Container {
    /// Starts `spec` in a fresh bundle of `image`; stdout and stderr go to `log`.
    pub(crate) fn start(image: &Image, spec: &RunSpec, log: &Path) -> Container {
        let (bundle, id) = prepare(image, spec);
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new("runc")
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("runc runs (make tools installs it)");
        Container {
            id,
            child,
            _bundle: bundle,
        }
    }
}

/// Runs `spec` to completion: (exit code, stdout, stderr).
pub(crate) fn run(image: &Image, spec: &RunSpec) -> (i32, String, String) {
    let (bundle, id) = prepare(image, spec);
    let out = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("runc runs (make tools installs it)");
    let _ = Command::new("runc")
        .args(["delete", "--force", &id])
        .output();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A bundle whose config runs `spec` the way a restricted pod runs: read-only root, no
/// capabilities, no new privileges, the image's user. Host network, no cgroup limits (the test
/// machine's cgroup layout is not one runc manages).
fn prepare(image: &Image, spec: &RunSpec) -> (Bundle, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    sweep_containers();
    let bundle = Bundle::unpack(image);
    let mut c = bundle.config();
    let p = &mut c["process"];
    p["terminal"] = false.into();
    if !spec.args.is_empty() {
        p["args"] = spec.args.clone().into();
    }
    let env = p["env"].as_array_mut().unwrap();
    for (k, v) in &spec.env {
        env.push(format!("{k}={v}").into());
    }
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        p["capabilities"][set] = serde_json::json!([]);
    }
    p["noNewPrivileges"] = true.into();
    c["root"]["readonly"] = true.into();
    let linux = c["linux"].as_object_mut().unwrap();
    linux.remove("resources");
    if let Some(ns) = linux.get_mut("namespaces").and_then(|n| n.as_array_mut()) {
        ns.retain(|n| n["type"] != "network");
    }
    let mounts = c["mounts"].as_array_mut().unwrap();
    for (host, path) in &spec.mounts {
        mounts.push(serde_json::json!({
            "destination": path, "type": "bind", "source": host, "options": ["rbind", "ro"],
        }));
    }
    std::fs::write(
        bundle.path().join("config.json"),
        serde_json::to_vec_pretty(&c).unwrap(),
    )
    .unwrap();
    let id = format!(
        "{ID_PREFIX}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    (bundle, id)
}

/// Every file of the root filesystem (files and symbolic links), relative to it, sorted.
fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let ty = e.file_type().unwrap();
            if ty.is_dir() {
                walk(root, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Shared libraries an ELF file needs (readelf, binutils).
fn needed(path: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
        .collect()
}

#[test]
fn the_image_holds_the_binary_its_libraries_certificates_and_users_and_nothing_else() {
    let img = image();
    assert_eq!(
        img.info["ref"],
        format!(
            "ghcr.io/connect-gr/connect-gr:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    let b = Bundle::unpack(img);
    let root = b.rootfs();
    let all = files(&root);
    let libs: Vec<&String> = all
        .iter()
        .filter(|f| f.starts_with("lib/x86_64-linux-gnu/"))
        .collect();
    // The libraries are exactly the binary's dependencies, transitively, and the loader.
    let mut want = vec!["ld-linux-x86-64.so.2".to_string()];
    let mut queue = needed(&root.join("usr/local/bin/connect-gr"));
    while let Some(lib) = queue.pop() {
        if !want.contains(&lib) {
            queue.extend(needed(&root.join("lib/x86_64-linux-gnu").join(&lib)));
            want.push(lib);
        }
    }
    want.sort();
    let have: Vec<String> = libs
        .iter()
        .map(|l| l.trim_start_matches("lib/x86_64-linux-gnu/").to_string())
        .collect();
    assert_eq!(have, want, "libraries");
    assert!(want.contains(&"libc.so.6".to_string()));
    for f in &all {
        let allowed = f.starts_with("lib/x86_64-linux-gnu/")
            || f == "lib64/ld-linux-x86-64.so.2"
            || f == "usr/local/bin/connect-gr"
            || (f.starts_with("usr/share/doc/") && f.ends_with("/copyright"))
            || f.starts_with("var/lib/dpkg/status.d/")
            || [
                "etc/group",
                "etc/nsswitch.conf",
                "etc/os-release",
                "etc/passwd",
                "etc/ssl/certs/ca-certificates.crt",
            ]
            .contains(&f.as_str());
        assert!(allowed, "unexpected file in the image: {f}");
    }
    assert!(!root.join("bin/sh").exists() && !root.join("usr/bin").exists());

    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let certs = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    let n = certs.matches("-----BEGIN CERTIFICATE-----").count();
    assert!(n >= 100, "only {n} CA certificates");
    use std::os::unix::fs::MetadataExt;
    let home = std::fs::metadata(root.join("home/nonroot")).unwrap();
    assert_eq!(
        (home.uid(), home.gid(), home.mode() & 0o7777),
        (65532, 65532, 0o700)
    );
    let tmp = std::fs::metadata(root.join("tmp")).unwrap();
    assert_eq!((tmp.uid(), tmp.mode() & 0o7777), (0, 0o1777));
    let bin = std::fs::metadata(root.join("usr/local/bin/connect-gr")).unwrap();
    assert_eq!((bin.uid(), bin.mode() & 0o7777), (0, 0o755));

    // The runtime configuration from the image: non-root, the binary as entrypoint.
    let c = b.config();
    assert_eq!(c["process"]["user"]["uid"], 65532);
    assert_eq!(c["process"]["user"]["gid"], 65532);
    assert_eq!(
        c["process"]["args"],
        serde_json::json!(["/usr/local/bin/connect-gr", "controller"])
    );
    let env: Vec<&str> = c["process"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
        "{env:?}"
    );
}

#[test]
fn the_image_runs_connect_gr_version_as_nonroot_on_a_read_only_root() {
    let (code, stdout, stderr) = run(
        image(),
        &RunSpec {
            args: vec!["/usr/local/bin/connect-gr".into(), "--version".into()],
            ..Default::default()
        },
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("connect-gr {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The final stage of the Dockerfile: the instructions that make the image's config.
fn dockerfile_final_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let stage = joined.rsplit("\nFROM ").next().unwrap();
    stage
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (k, v) = l.trim().split_once(' ').unwrap();
            (
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

#[test]
fn the_dockerfile_gives_the_image_the_same_config_and_root_filesystem() {
    let stage = dockerfile_final_stage();
    let get = |k: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(i, _)| i == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    assert!(
        text.contains("FROM scratch") && text.contains("scripts/image.sh rootfs"),
        "the Dockerfile assembles the root filesystem with scripts/image.sh on scratch"
    );
    assert_eq!(get("COPY"), ["--from=build /rootfs/ /"]);

    let b = Bundle::unpack(image());
    let c = b.config();
    let user = format!(
        "{}:{}",
        c["process"]["user"]["uid"], c["process"]["user"]["gid"]
    );
    assert_eq!(get("USER"), [user]);
    let entry: Vec<String> = serde_json::from_str(&get("ENTRYPOINT")[0]).unwrap();
    let cmd: Vec<String> = serde_json::from_str(&get("CMD")[0]).unwrap();
    let args: Vec<String> = serde_json::from_value(c["process"]["args"].clone()).unwrap();
    assert_eq!([entry, cmd].concat(), args);
    let image_env: Vec<String> = serde_json::from_value(c["process"]["env"].clone()).unwrap();
    for kv in get("ENV")[0].split(' ') {
        assert!(
            image_env.contains(&kv.to_string()),
            "{kv} not in {image_env:?}"
        );
    }
    assert_eq!(get("EXPOSE"), ["8080/tcp"]);
}

/// The controller from the image, as a pod would run it: in-cluster configuration (the
/// ServiceAccount volume a kubelet mounts, `KUBERNETES_SERVICE_HOST/PORT`), the shipped
/// ServiceAccount bound only to the shipped Role, against the test bed and the emulator; the
/// example InstanceReplica (deploy/examples) reaches Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_from_the_image_brings_the_example_instance_replica_to_ready() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver issues no ServiceAccount tokens");
    let img = image();
    let ns = bed.namespace("image");
    rbac::bind_shipped_role(bed, &ns);
    let sa = tempfile::Builder::new()
        .prefix("connect-gr-sa-")
        .tempdir()
        .unwrap();
    std::fs::write(
        sa.path().join("token"),
        rbac::token(bed, &ns, SERVICE_ACCOUNT),
    )
    .unwrap();
    std::fs::copy(bed.dir().join("pki/ca.crt"), sa.path().join("ca.crt")).unwrap();
    std::fs::write(sa.path().join("namespace"), &ns).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sa.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["token", "ca.crt", "namespace"] {
        std::fs::set_permissions(sa.path().join(f), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let port = bed.server_url().rsplit(':').next().unwrap().to_string();
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let env = |k: &str, v: &str| (k.to_string(), v.to_string());
    let _ctl = Container::start(
        img,
        &RunSpec {
            args: [
                "/usr/local/bin/connect-gr",
                "controller",
                "--namespace",
                &ns,
                "--metrics-addr",
                "127.0.0.1:0",
            ]
            .map(String::from)
            .to_vec(),
            env: vec![
                env("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
                env("KUBERNETES_SERVICE_PORT", &port),
                env("AWS_ENDPOINT_URL_CONNECT", &emu.url),
                env("AWS_ACCESS_KEY_ID", "test"),
                env("AWS_SECRET_ACCESS_KEY", "test"),
                env("AWS_REGION", "us-west-2"),
                env("CONNECT_GR_RESYNC_INTERVAL", "4s"),
                env("CONNECT_GR_BENCH_QUOTA_SCALE", "20"),
                env("POD_NAMESPACE", &ns),
                env("POD_NAME", "connect-gr-image-test"),
            ],
            mounts: vec![(
                sa.path().to_path_buf(),
                "/var/run/secrets/kubernetes.io/serviceaccount",
            )],
        },
        &bed.dir().join(format!("controller-{ns}.log")),
    );
    let example =
        std::fs::read_to_string(repo_root().join("deploy/examples/instance-replica.yaml")).unwrap();
    apply(bed, &ns, &example);
    wait_ready(bed, &ns, "instancereplica/support-center", "120s");
}
