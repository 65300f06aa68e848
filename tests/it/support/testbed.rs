//! A real Kubernetes API server for the integration tests: etcd plus the API server on free
//! loopback ports, a generated CA with a server certificate and an `O=system:masters` client
//! certificate, a kubeconfig, and the project's CRDs applied with `kubectl apply --server-side`.
//!
//! [`TestBed::shared`] starts one test bed per test process. Tests isolate themselves by
//! namespace name ([`TestBed::namespace`] or [`unique_namespace`]): any name works on both
//! servers (the apiextensions-apiserver has no Namespace objects; kube-apiserver runs without the
//! NamespaceLifecycle admission plugin), `TestBed::namespace` also creates the Namespace object
//! where there is one. The processes die with the test process, also on panic or abort:
//! - they are spawned from a keeper thread that lives as long as the process, with
//!   `PR_SET_PDEATHSIG(SIGKILL)` (the signal fires when the spawning *thread* exits, which is why
//!   the test threads themselves cannot spawn them);
//! - each test bed records its pids; the next start sweeps the leftovers of dead test processes
//!   (e.g. after `kill -9`, where nothing else runs).
//!
//! Binaries: `CONNECT_GR_APISERVER=kube` (default) runs `.tools/bin/kube-apiserver` (Events,
//! Leases, namespaces, RBAC), `CONNECT_GR_APISERVER=apiextensions` runs
//! `.tools/bin/connect-gr-testbed-apiserver` (CRDs only); `CONNECT_GR_APISERVER_BIN` overrides the path. When the binary is
//! missing the harness runs `scripts/tools.d/testbed.sh` (a cold build takes minutes).
//! etcd comes from PATH (Debian `etcd-server`), kubectl from `.tools/venv/bin` or PATH.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One running etcd + API server.
pub struct TestBed {
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    flavour: Flavour,
    kubectl: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// k8s.io/apiextensions-apiserver: CRDs only (no core/v1, Events, Leases, RBAC).
    ApiExtensions,
    /// kube-apiserver: everything, including Events, Leases, Namespaces and RBAC.
    Kube,
}

static SHARED: OnceLock<TestBed> = OnceLock::new();

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A namespace name unique in this test process (and across processes, by pid).
pub fn unique_namespace(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestBed {
    /// The test bed of this test process, started on first use.
    pub fn shared() -> &'static TestBed {
        SHARED.get_or_init(|| TestBed::start_retrying(None))
    }

    /// A test bed of its own, without the CRDs (for tests that install or change them, such as
    /// `helm install`/`helm upgrade`); stopped when dropped.
    pub fn isolated(name: &str) -> TestBed {
        TestBed::start_retrying(Some(name))
    }

    fn start_retrying(isolated: Option<&str>) -> TestBed {
        {
            let mut last = None;
            for _ in 0..3 {
                match TestBed::start(isolated) {
                    Ok(tb) => return tb,
                    Err(e) => {
                        eprintln!("testbed: start failed, retrying: {e:#}");
                        last = Some(e);
                    }
                }
            }
            panic!("testbed: could not start: {:#}", last.unwrap())
        }
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`
    pub fn server_url(&self) -> &str {
        &self.server
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// Directory with the logs (`etcd.log`, `apiserver.log`), certificates and kubeconfig.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pids of etcd and the API server.
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// A kube client for this API server.
    pub async fn client(&self) -> kube::Client {
        // kube (ring) and the AWS SDK (aws-lc-rs) both enable a rustls provider: pick one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kube config");
        kube::Client::try_from(cfg).expect("kube client")
    }

    /// A fresh namespace for one test: a unique name, created as a Namespace object when the
    /// server has them (kube-apiserver); the apiextensions-apiserver accepts any name as is.
    pub fn namespace(&self, prefix: &str) -> String {
        let ns = unique_namespace(prefix);
        if self.flavour == Flavour::Kube {
            self.kubectl_ok(&["create", "namespace", &ns]);
        }
        ns
    }

    /// Does this server serve core/v1, Events, Leases and RBAC?
    pub fn has_core_apis(&self) -> bool {
        self.flavour == Flavour::Kube
    }

    /// Fails the test, loudly, on a test bed without the core APIs (the apiextensions flavour):
    /// a test that needs them never passes by skipping itself.
    pub fn require_core_apis(&self, why: &str) {
        assert!(
            self.has_core_apis(),
            "this test needs kube-apiserver ({why}); run it with CONNECT_GR_APISERVER=kube (the default)"
        );
    }

    /// Run kubectl against this API server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Run kubectl with `stdin` piped in (e.g. `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl_run(&self.kubectl, &self.kubeconfig, args, stdin)
    }

    /// Run kubectl and panic with its stderr unless it succeeds; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start(isolated: Option<&str>) -> anyhow::Result<TestBed> {
        sweep_leftovers();
        let flavour = match std::env::var("CONNECT_GR_APISERVER").as_deref() {
            Ok("apiextensions") => Flavour::ApiExtensions,
            Ok("kube") | Err(_) => Flavour::Kube,
            Ok(other) => {
                anyhow::bail!("CONNECT_GR_APISERVER={other}: expected kube or apiextensions")
            }
        };
        let root = repo_root();
        let apiserver = match std::env::var_os("CONNECT_GR_APISERVER_BIN") {
            Some(p) => PathBuf::from(p),
            None => root.join(".tools/bin").join(match flavour {
                Flavour::ApiExtensions => "connect-gr-testbed-apiserver",
                Flavour::Kube => "kube-apiserver",
            }),
        };
        if !apiserver.exists() {
            eprintln!(
                "testbed: {} missing, running scripts/tools.d/testbed.sh",
                apiserver.display()
            );
            let mut cmd = Command::new("bash");
            cmd.arg(root.join("scripts/tools.d/testbed.sh"));
            cmd.env(
                "CONNECT_GR_APISERVER",
                match flavour {
                    Flavour::Kube => "kube",
                    Flavour::ApiExtensions => "apiextensions",
                },
            );
            let st = cmd.status()?;
            anyhow::ensure!(st.success(), "scripts/tools.d/testbed.sh failed");
        }
        let etcd = which("etcd").ok_or_else(|| anyhow::anyhow!("etcd not on PATH (make tools)"))?;
        let kubectl = find_kubectl();

        let base = state_root();
        let dir = base.join(match isolated {
            None => format!("connect-gr-testbed-{}", std::process::id()),
            Some(name) => format!("connect-gr-testbed-{}-{name}", std::process::id()),
        });
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs"))?;
        let pki = Pki::generate(&dir)?;

        let (etcd_client, etcd_peer, api_port) = (free_port()?, free_port()?, free_port()?);
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let etcd_args: Vec<String> = vec![
            "--name".into(),
            "testbed".into(),
            "--data-dir".into(),
            dir.join("etcd-data").display().to_string(),
            "--listen-client-urls".into(),
            etcd_url.clone(),
            "--advertise-client-urls".into(),
            etcd_url.clone(),
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            format!("testbed={peer_url}"),
            "--log-level".into(),
            "warn".into(),
        ];
        let etcd_pid = spawn_kept(&etcd, &etcd_args, &dir.join("etcd.log"))?;
        record_pid(&dir, etcd_pid)?;

        let fake = dir.join("fake-kubeconfig");
        std::fs::write(
            &fake,
            "apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: \"http://127.0.0.1:1\"}}]\n\
             contexts: [{name: fake, context: {cluster: fake, user: fake}}]\nusers: [{name: fake, user: {}}]\n\
             current-context: fake\n",
        )?;
        let p = |p: &Path| p.display().to_string();
        let mut args: Vec<String> = vec![
            format!("--etcd-servers={etcd_url}"),
            "--etcd-prefix=/connect-gr-test".into(),
            format!("--secure-port={api_port}"),
            "--bind-address=127.0.0.1".into(),
            format!("--cert-dir={}", p(&dir.join("certs"))),
            format!("--tls-cert-file={}", p(&pki.server_crt)),
            format!("--tls-private-key-file={}", p(&pki.server_key)),
            format!("--client-ca-file={}", p(&pki.ca_crt)),
            "--enable-priority-and-fairness=false".into(),
        ];
        match flavour {
            Flavour::ApiExtensions => args.extend([
                "--authentication-skip-lookup".into(),
                format!("--authentication-kubeconfig={}", p(&fake)),
                format!("--authorization-kubeconfig={}", p(&fake)),
                format!("--kubeconfig={}", p(&fake)),
                "--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy".into(),
            ]),
            Flavour::Kube => args.extend([
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", p(&pki.sa_pub)),
                format!("--service-account-signing-key-file={}", p(&pki.sa_key)),
                "--authorization-mode=RBAC".into(),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--disable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook".into(),
            ]),
        }
        let api_pid = spawn_kept(&apiserver, &args, &dir.join("apiserver.log"))?;
        record_pid(&dir, api_pid)?;

        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, pki.kubeconfig(&server))?;

        let started = Instant::now();
        loop {
            let out = kubectl_run(
                &kubectl,
                &kubeconfig,
                &["get", "--raw", "/readyz?exclude=informer-sync"],
                None,
            );
            if out.status.success() {
                break;
            }
            if !alive(api_pid) {
                anyhow::bail!("API server exited: {}", tail(&dir.join("apiserver.log")));
            }
            if started.elapsed() > Duration::from_secs(90) {
                anyhow::bail!(
                    "API server not ready after 90s: {}",
                    tail(&dir.join("apiserver.log"))
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let tb = TestBed {
            dir,
            kubeconfig,
            server,
            flavour,
            kubectl,
        };
        if isolated.is_some() {
            eprintln!(
                "testbed: isolated {:?} API server {} ready in {:.1}s (kubeconfig {})",
                tb.flavour,
                tb.server,
                started.elapsed().as_secs_f64(),
                tb.kubeconfig.display()
            );
            return Ok(tb);
        }
        let crds = root.join("crds");
        let crds = crds.display().to_string();
        let out = tb.kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=connect-gr",
            "-f",
            &crds,
        ]);
        anyhow::ensure!(
            out.status.success(),
            "applying CRDs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = tb.kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &crds,
        ]);
        anyhow::ensure!(
            out.status.success(),
            "CRDs not established: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "testbed: {:?} API server {} ready in {:.1}s (kubeconfig {})",
            tb.flavour,
            tb.server,
            started.elapsed().as_secs_f64(),
            tb.kubeconfig.display()
        );
        Ok(tb)
    }
}

fn kubectl_run(kubectl: &Path, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(kubectl);
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .expect("write kubectl stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

/// tmpfs when available (etcd fsyncs a lot; Debian's 3.4 has no --unsafe-no-fsync).
fn state_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && std::fs::metadata(shm)
            .map(|m| !m.permissions().readonly())
            .unwrap_or(false)
    {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

pub fn find_kubectl() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBECTL") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".tools/venv/bin/kubectl");
    if venv.is_file() {
        return venv;
    }
    which("kubectl").unwrap_or_else(|| PathBuf::from("kubectl"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn alive(pid: u32) -> bool {
    // kill(pid, 0) succeeds for zombies too; check /proc state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Pids and directories of this process's test beds, cleaned up by [`cleanup_at_exit`].
static CLEANUP: std::sync::Mutex<(Vec<i32>, Vec<PathBuf>)> =
    std::sync::Mutex::new((Vec::new(), Vec::new()));

impl Drop for TestBed {
    /// Only isolated test beds are dropped (the shared one lives in a static).
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: kill(2) on processes this test bed started.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs at normal process exit (the test harness returns from main): kill the children now
/// rather than waiting for the death signal, and free the tmpfs directory (etcd preallocates
/// 64 MB of WAL).
extern "C" fn cleanup_at_exit() {
    let Ok(state) = CLEANUP.lock() else { return };
    for pid in &state.0 {
        // SAFETY: kill(2) on processes this test process started.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    if !state.1.is_empty() {
        // give the kernel a moment to release the files of the killed processes
        std::thread::sleep(Duration::from_millis(50));
    }
    for dir in &state.1 {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn record_pid(dir: &Path, pid: u32) -> std::io::Result<()> {
    use std::io::Write;
    {
        let mut state = CLEANUP.lock().unwrap();
        if state.1.is_empty() {
            // SAFETY: registering a plain extern "C" fn without captured state.
            unsafe {
                libc::atexit(cleanup_at_exit);
            }
        }
        state.0.push(pid as i32);
        if !state.1.iter().any(|d| d == dir) {
            state.1.push(dir.to_path_buf());
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("pids"))?;
    writeln!(f, "{pid}")
}

/// Kill the processes of test beds whose test process is gone, and remove their directories.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir(state_root()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix("connect-gr-testbed-")
            .and_then(|p| p.split('-').next()?.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || alive(owner) {
            continue;
        }
        let pids = std::fs::read_to_string(e.path().join("pids")).unwrap_or_default();
        for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            // only our own children: their command line names this test bed's directory
            if cmdline.contains(&name) {
                // SAFETY: plain kill(2) on a pid we started (checked by its command line).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        let _ = std::fs::remove_dir_all(e.path());
    }
}

/// Spawns processes from one thread that lives as long as the test process, so that
/// PR_SET_PDEATHSIG (which fires when the spawning thread exits) kills them exactly when the
/// process ends.
fn spawn_kept(program: &Path, args: &[String], log: &Path) -> anyhow::Result<u32> {
    type Req = (
        PathBuf,
        Vec<String>,
        PathBuf,
        std::sync::mpsc::Sender<std::io::Result<u32>>,
    );
    static KEEPER: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Req>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Req>();
        std::thread::Builder::new()
            .name("testbed-keeper".into())
            .spawn(move || {
                let mut children: Vec<Child> = Vec::new();
                // keep the thread (and with it the death signal's anchor) alive forever
                while let Ok((program, args, log, reply)) = rx.recv() {
                    let res = (|| {
                        let out = std::fs::File::create(&log)?;
                        let err = out.try_clone()?;
                        let mut cmd = Command::new(&program);
                        cmd.args(&args).stdin(Stdio::null()).stdout(out).stderr(err);
                        // SAFETY: prctl and getppid are async-signal-safe.
                        unsafe {
                            cmd.pre_exec(|| {
                                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                                    return Err(std::io::Error::last_os_error());
                                }
                                // the parent may have died between fork and prctl
                                if libc::getppid() == 1 {
                                    libc::_exit(1);
                                }
                                Ok(())
                            });
                        }
                        let child = cmd.spawn()?;
                        let pid = child.id();
                        children.push(child);
                        Ok(pid)
                    })();
                    let _ = reply.send(res);
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("keeper thread");
        std::sync::Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = std::sync::mpsc::channel();
    keeper.lock().unwrap().send((
        program.to_path_buf(),
        args.to_vec(),
        log.to_path_buf(),
        reply_tx,
    ))?;
    Ok(reply_rx.recv()??)
}

struct Pki {
    ca_crt: PathBuf,
    server_crt: PathBuf,
    server_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
    ca_pem: String,
    client_pem: String,
    client_key_pem: String,
}

impl Pki {
    fn generate(dir: &Path) -> anyhow::Result<Pki> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose, SanType,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "connect-gr-testbed-ca");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
        server
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        server
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .distinguished_name
            .push(DnType::CommonName, "connect-gr-admin");
        client
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate()?;
        let client_cert = client.signed_by(&client_key, &issuer)?;

        let sa_key = KeyPair::generate()?;

        let pki = dir.join("pki");
        std::fs::create_dir_all(&pki)?;
        let write = |name: &str, content: &str| -> std::io::Result<PathBuf> {
            let p = pki.join(name);
            std::fs::write(&p, content)?;
            Ok(p)
        };
        Ok(Pki {
            ca_crt: write("ca.crt", &ca_cert.pem())?,
            server_crt: write("server.crt", &server_cert.pem())?,
            server_key: write("server.key", &server_key.serialize_pem())?,
            sa_key: write("sa.key", &sa_key.serialize_pem())?,
            sa_pub: write("sa.pub", &sa_key.public_key_pem())?,
            ca_pem: ca_cert.pem(),
            client_pem: write("client.crt", &client_cert.pem()).map(|_| client_cert.pem())?,
            client_key_pem: write("client.key", &client_key.serialize_pem())
                .map(|_| client_key.serialize_pem())?,
        })
    }

    fn kubeconfig(&self, server: &str) -> String {
        let b64 = |s: &str| base64(s.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {server}\n    \
             certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    \
             client-key-data: {}\ncontexts:\n- name: testbed\n  context: {{cluster: testbed, user: admin, namespace: default}}\n\
             current-context: testbed\n",
            b64(&self.ca_pem),
            b64(&self.client_pem),
            b64(&self.client_key_pem)
        )
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}
