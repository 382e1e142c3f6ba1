//! A PostgreSQL server of a test's own: Debian's `initdb` and `pg_ctl` into a fresh folder, on a free
//! loopback port, stopped when dropped. PostgreSQL refuses to run as root, so when the tests run as
//! root (as in CI) its tools run as the `postgres` user the Debian package creates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` (`make postgres` installs it).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort_by_key(|p| p.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    found.pop().unwrap_or_else(|| panic!("no PostgreSQL server in /usr/lib/postgresql: run `make postgres`"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

impl Postgres {
    /// A fresh cluster (superuser `mlflow`, trusted on loopback), started, with database `mlflow`.
    pub fn start() -> Postgres {
        // Outside target/: the server's user must be able to reach its folder.
        let root = std::env::temp_dir().join(crate::unique("openclaw-pg"));
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&root).status().unwrap();
            assert!(status.success(), "chown {}", root.display());
        }
        let port = crate::free_port();
        let pg = Postgres { port, data, bin: bin_dir(), as_postgres };
        pg.run("initdb", &["-D", &pg.path(&pg.data), "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", pg.path(&pg.data));
        let log = pg.path(&root.join("server.log"));
        pg.run("pg_ctl", &["-D", &pg.path(&pg.data), "-l", &log, "-o", &options, "-w", "start"]);
        pg.run("createdb", &["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "mlflow", "mlflow"]);
        pg
    }

    /// The database's URL, as MLflow's `--backend-store-uri` takes it.
    pub fn url(&self) -> String {
        format!("postgresql://mlflow@127.0.0.1:{}/mlflow", self.port)
    }

    fn path(&self, p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let out = self.command(tool).args(args).current_dir("/").output().unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.path(&self.data), "-m", "immediate", "stop"]).output();
        if let Some(root) = self.data.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}
