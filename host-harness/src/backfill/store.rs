//! OpenClaw's own store of one agent (`agents/<id>/agent/openclaw-agent.sqlite`), opened read-only: a
//! running gateway may hold it, and backfill never writes to it.

use super::turns::{Entry, Session};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The store schema versions this reader knows (`schema_meta.schema_version`), with the OpenClaw
/// release that wrote them.
const KNOWN_SCHEMA_VERSIONS: &[(i64, &str)] = &[(23, "2026.9.6")];

/// OpenClaw's own bounds on one stored transcript event (its `transcript-payload.ts`): at most
/// 4 MiB compressed and 4 MiB decoded, the decoded size recorded beside it. A row outside them was
/// not written by OpenClaw.
const MAX_EVENT_BYTES: usize = 4 << 20;
/// The most one session's transcript is read in all (OpenClaw's own transcript read budget).
const MAX_SESSION_BYTES: usize = 50 << 20;
/// The tables backfill reads: a store where one is a view (which can produce rows without end) is
/// not OpenClaw's.
const TABLES_READ: [&str; 3] = ["session_nodes", "session_windows", "transcript_events"];

pub struct AgentStore {
    pub agent_id: String,
    pub path: PathBuf,
    db: Connection,
}

/// The agents' stores under a state directory, by agent id (`--agent` keeps one).
pub fn agent_stores(state_dir: &Path, only_agent: Option<&str>) -> Result<Vec<AgentStore>, String> {
    let agents = state_dir.join("agents");
    let listing = std::fs::read_dir(&agents).map_err(|e| {
        format!("{}: {e} (is --state-dir OpenClaw's state directory, e.g. ~/.openclaw?)", agents.display())
    })?;
    let mut ids: Vec<String> =
        listing.filter_map(|d| d.ok()).map(|d| d.file_name().to_string_lossy().into_owned()).collect();
    ids.sort();
    if let Some(agent) = only_agent {
        if !ids.iter().any(|id| id == agent) {
            return Err(format!("no agent {agent:?} in {} (agents: {})", agents.display(), ids.join(", ")));
        }
        ids.retain(|id| id == agent);
    }
    ids.iter()
        .map(|id| agents.join(id).join("agent/openclaw-agent.sqlite"))
        .filter(|path| path.exists())
        .map(|path| AgentStore::open(&path))
        .collect()
}

impl AgentStore {
    pub fn open(path: &Path) -> Result<AgentStore, String> {
        let what = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(what)?;
        db.busy_timeout(std::time::Duration::from_secs(5)).map_err(what)?;
        let (version, agent_id): (i64, Option<String>) = db
            .query_row("SELECT schema_version, agent_id FROM schema_meta WHERE role = 'agent' LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| format!("{}: not an OpenClaw agent store ({e})", path.display()))?;
        if !KNOWN_SCHEMA_VERSIONS.iter().any(|(v, _)| *v == version) {
            let known: Vec<String> =
                KNOWN_SCHEMA_VERSIONS.iter().map(|(v, release)| format!("{v} (OpenClaw {release})")).collect();
            return Err(format!(
                "{}: store schema version {version} is not one this backfill reads ({}); upgrade openclaw-mlflow",
                path.display(),
                known.join(", ")
            ));
        }
        for table in TABLES_READ {
            let kind: Option<String> = db
                .query_row("SELECT type FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
                .map_err(|e| format!("{}: {table}: {e}", path.display()))?;
            if kind.as_deref() != Some("table") {
                return Err(format!(
                    "{}: {table} is {}, not OpenClaw's table: not an OpenClaw agent store",
                    path.display(),
                    kind.map_or("missing".to_string(), |k| format!("a {k}"))
                ));
            }
        }
        // The agent's directory name when the store does not say.
        let dir_agent = path.ancestors().nth(2).and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        let agent_id = agent_id.or(dir_agent).unwrap_or_else(|| "main".into());
        Ok(AgentStore { agent_id, path: path.to_path_buf(), db })
    }

    /// The session windows (one per `sessionId`) with their session key and channel, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>, String> {
        let mut stmt = self
            .db
            .prepare("SELECT session_id, session_key, channel FROM session_windows ORDER BY created_at, session_id")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Session {
                    session_id: r.get(0)?,
                    session_key: r.get(1)?,
                    channel: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    agent_id: self.agent_id.clone(),
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// A session's transcript entries, in order (`event_zstd` rows decompressed). An entry that
    /// cannot be read is reported through `bad` and skipped.
    pub fn transcript(&self, session_id: &str, bad: &mut dyn FnMut(String)) -> Result<Vec<Entry>, String> {
        let mut stmt = self
            .db
            .prepare_cached(
                "SELECT seq, event_json, event_zstd, event_utf8_bytes FROM transcript_events WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.error(e))?;
        let mut rows = stmt.query([session_id]).map_err(|e| self.error(e))?;
        let mut entries = Vec::new();
        let mut read = 0usize;
        while let Some(row) = rows.next().map_err(|e| self.error(e))? {
            let seq: i64 = row.get(0).map_err(|e| self.error(e))?;
            let json: Option<String> = row.get(1).map_err(|e| self.error(e))?;
            let packed: Option<Vec<u8>> = row.get(2).map_err(|e| self.error(e))?;
            let recorded: Option<i64> = row.get(3).map_err(|e| self.error(e))?;
            let text = match (json, packed) {
                (Some(text), _) if text.len() > MAX_EVENT_BYTES => {
                    Err(format!("{} bytes, more than OpenClaw stores in one event", text.len()))
                }
                (Some(text), _) => Ok(text),
                (None, Some(packed)) => decompress(&packed, recorded),
                (None, None) => Err("neither event_json nor event_zstd".into()),
            };
            read += text.as_ref().map_or(0, String::len);
            if read > MAX_SESSION_BYTES {
                return Err(format!(
                    "{} session {session_id} entry {seq}: the transcript holds more than {} MiB; backfill reads at most that of one session",
                    self.path.display(),
                    MAX_SESSION_BYTES >> 20
                ));
            }
            match text.and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string())) {
                Ok(event) => entries.push(Entry { seq, event }),
                Err(e) => bad(format!("{} session {session_id} entry {seq}: {e}", self.path.display())),
            }
        }
        Ok(entries)
    }

    fn error(&self, e: rusqlite::Error) -> String {
        format!("{}: {e}", self.path.display())
    }
}

/// An `event_zstd` payload, decoded within OpenClaw's bounds: at most `MAX_EVENT_BYTES` either way,
/// and exactly the size recorded beside it (a payload that decodes to more is not read further).
fn decompress(packed: &[u8], recorded: Option<i64>) -> Result<String, String> {
    use std::io::Read;
    let size = recorded.and_then(|n| usize::try_from(n).ok()).filter(|n| (1..=MAX_EVENT_BYTES).contains(n));
    let (Some(size), true) = (size, (1..=MAX_EVENT_BYTES).contains(&packed.len())) else {
        return Err(format!(
            "compressed payload out of OpenClaw's bounds ({} bytes, recorded size {recorded:?}; at most {MAX_EVENT_BYTES} each)",
            packed.len()
        ));
    };
    let decoder = zstd::stream::read::Decoder::new(packed).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(size);
    decoder.take(size as u64 + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() != size {
        return Err(format!("compressed payload does not decode to its recorded size of {size} bytes"));
    }
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
