//! Harness: moto in server mode on 127.0.0.1 (a free port), a real DynamoDB wire peer.
//!
//! `moto_server` comes from `.tools/venv` (installed by `scripts/tools.d/moto.sh`, which
//! `make test` runs). One server per test; it is killed when the handle drops.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn venv_bin(name: &str) -> PathBuf {
    repo_root().join(".tools/venv/bin").join(name)
}

/// A free port never handed to another moto of this test process: two servers started side by
/// side must not be given one port (the second would fail to bind, and its tests would talk to
/// the first one's tables).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Moto {
    /// Starts moto and waits until it answers; a server that exits meanwhile (its port was taken
    /// by another process) is started again on another port.
    pub fn start() -> Moto {
        let bin = venv_bin("moto_server");
        if !bin.exists() {
            let status = Command::new("bash")
                .arg(repo_root().join("scripts/tools.d/moto.sh"))
                .status()
                .expect("run scripts/tools.d/moto.sh");
            assert!(status.success(), "installing moto failed");
        }
        for _ in 0..3 {
            if let Some(moto) = Self::start_on(&bin, free_port()) {
                return moto;
            }
        }
        panic!("moto_server exited before it answered, three times");
    }

    fn start_on(bin: &std::path::Path, port: u16) -> Option<Moto> {
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Moto { child, endpoint };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Answering, and still ours: a server that failed to bind has exited by now.
                std::thread::sleep(Duration::from_millis(200));
                return match moto.child.try_wait() {
                    Ok(None) => Some(moto),
                    _ => None,
                };
            }
            assert!(Instant::now() < deadline, "moto did not start on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A DynamoDB client for `region` against this server, with static credentials.
    pub fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// Environment for a child process (CLI, Lambda bootstrap) to reach this server.
    #[allow(dead_code)]
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
