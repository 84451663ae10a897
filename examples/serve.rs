//! The main job: a SCIM 2.0 endpoint Okta or Entra ID can be pointed at, on the embedded
//! store. `cargo run --release --example serve -- --help` lists the flags.

use scim::admin::AdminOptions;
use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::server::{Server, ServerOptions, TlsFiles};
use scim::token::IssuedToken;
use scim::{Engine, EngineConfig};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

const HELP: &str = "\
libscim serve: a SCIM 2.0 endpoint for Okta and Microsoft Entra ID provisioning.

USAGE: cargo run --release --example serve -- [FLAGS]

  --listen ADDR                 address to listen on (default 127.0.0.1:8080)
  --data DIR                    where the database lives (default ./libscim-data)
  --database URL                a shared PostgreSQL database (postgres://user:pass@host/db)
                                instead of the SQLite file under --data; several instances
                                may serve it at once, each with the same --secrets-key-file
  --secrets-key-file PATH       the key sealing stored secrets and signing login cookies
                                (default <data>/secrets.key; created when missing). On a
                                shared database every instance needs the same one: serve
                                refuses a key that does not open the secrets stored there
  --directory NAME              directory to serve, created when missing (default \"Lab Directory\")
  --domain DOMAIN               the directory's domain when it is created (default example.com)
  --idp okta|entra|generic      the directory's IdP when it is created (default okta)
  --public-url URL              scheme://host[:port] the IdP reaches this server at
                                (default http(s)://<listen address>)
  --new-token                   issue a new token even if the current one is valid
  --token-lifespan-months N     lifespan of a newly issued token, 1-24 (default 6)
  --credentials-file PATH       also write {tenant_url, token, expires_at} there (mode 0600)
  --tls-cert PEM --tls-key PEM  serve HTTPS with this certificate chain and key
  --oidc-config-url URL         OpenID Connect login: the IdP's .well-known/openid-configuration
  --client-id ID                the OIDC client id (with --oidc-config-url)
  --client-secret SECRET        the OIDC client secret (with --oidc-config-url)
  --oidc-claim CLAIM            ID-token claim identifying the user (default email; sub is safer)
  --oidc-attribute ATTR         mapped user attribute it must equal (default email; or externalId)
  --oidc-allow-http             allow http:// IdP URLs (loopback tests only)
  --events-max-age SECS         drop unacknowledged events older than this (default 604800,
                                7 days; 0 = keep regardless of age)
  --events-max-count N          keep at most N unacknowledged events per directory, dropping
                                the oldest (default 1000000; 0 = keep none). Acknowledged
                                events are always deleted; every drop is logged.
  --max-connections N           open connections served at most; beyond, 503 (default 512)
  --max-in-flight N             requests in flight at most; beyond, 503 (default 256)
  --max-in-flight-per-directory N
                                one directory's requests in flight at most; beyond, 429
                                (default 64)
  --rate-limit N                one directory's requests per second; beyond, 429 with
                                Retry-After (default: no limit)
  --rate-burst N                requests a directory may send at once (default 2 x --rate-limit)
  --log-format human|json       activity lines (one per request, one per change event) as
                                text or as one JSON object per line (default human)
  --quiet                       no activity lines (warnings and errors still go to stderr)
  --keep-events                 leave change events in the outbox for another consumer:
                                serve neither prints nor acknowledges them
  --events-lease-secs N         serve consumes events as consumer group `serve`; with several
                                instances on one database, one of them holds a directory's
                                events at a time, and another takes over N seconds after it
                                stopped renewing (default 30)
  --admin-remote                serve the admin API (/admin/api/) to clients that are not on
                                a loopback address too (default: loopback only, others get 403)
  --no-admin                    no admin API
  -h, --help                    this text
";

struct Args {
    listen: SocketAddr,
    data: PathBuf,
    /// `--database`: a PostgreSQL URL instead of the SQLite file under `data`.
    database: Option<String>,
    /// `--secrets-key-file`, when given (else `secrets.key` under `data`).
    secrets_key_file: Option<PathBuf>,
    directory: String,
    domain: String,
    idp: IdpKind,
    public_url: Option<String>,
    new_token: bool,
    /// `--token-lifespan-months`, when given: a token with another lifespan is replaced.
    lifespan: Option<u32>,
    credentials_file: Option<PathBuf>,
    tls: Option<TlsFiles>,
    oidc: Option<OidcArgs>,
    events: scim::events::EventRetention,
    server: ServerOptions,
    /// Where activity lines go: `None` with `--quiet`.
    activity: Option<LogFormat>,
    /// `--keep-events`: another consumer applies the events.
    keep_events: bool,
    /// `--events-lease-secs`, in milliseconds.
    event_lease_ms: u64,
    /// The admin API is on (unless `--no-admin`), with a fresh credential each start.
    admin: bool,
    /// `--admin-remote`: non-loopback clients may use the admin API.
    admin_remote: bool,
}

/// How activity lines are written (`--log-format`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    Human,
    Json,
}

struct OidcArgs {
    config_url: String,
    client_id: String,
    client_secret: String,
    claim: String,
    attribute: String,
    allow_http: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        data: PathBuf::from("libscim-data"),
        database: None,
        secrets_key_file: None,
        directory: "Lab Directory".into(),
        domain: "example.com".into(),
        idp: IdpKind::Okta,
        public_url: None,
        new_token: false,
        lifespan: None,
        credentials_file: None,
        tls: None,
        oidc: None,
        events: scim::events::EventRetention::default(),
        server: ServerOptions::default(),
        activity: Some(LogFormat::Human),
        keep_events: false,
        event_lease_ms: scim::engine::DEFAULT_EVENT_LEASE_MS,
        admin: true,
        admin_remote: false,
    };
    let mut quiet = false;
    let (mut rate, mut burst) = (None, None);
    let (mut cert, mut key) = (None, None);
    let (mut config_url, mut client_id, mut client_secret) = (None, None, None);
    let (mut claim, mut attribute, mut allow_http) = (None, None, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--listen" => {
                let v = value()?;
                a.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--data" => a.data = PathBuf::from(value()?),
            "--database" => {
                let v = value()?;
                if !scim::store::PostgresStore::is_url(&v) {
                    return Err("--database must be a postgres:// URL".into());
                }
                a.database = Some(v);
            }
            "--secrets-key-file" => a.secrets_key_file = Some(PathBuf::from(value()?)),
            "--directory" => a.directory = value()?,
            "--domain" => a.domain = value()?,
            "--idp" => {
                a.idp = match value()?.as_str() {
                    "okta" => IdpKind::Okta,
                    "entra" => IdpKind::Entra,
                    "generic" => IdpKind::Generic,
                    other => {
                        return Err(format!("--idp must be okta, entra or generic, not {other}"))
                    }
                }
            }
            "--public-url" => a.public_url = Some(value()?.trim_end_matches('/').to_owned()),
            "--new-token" => a.new_token = true,
            "--token-lifespan-months" => {
                let v = value()?;
                let months = v
                    .parse()
                    .map_err(|_| format!("--token-lifespan-months {v}: not a number"))?;
                a.lifespan = Some(scim::token::lifespan(Some(months)).map_err(|e| e.detail)?);
            }
            "--credentials-file" => a.credentials_file = Some(PathBuf::from(value()?)),
            "--tls-cert" => cert = Some(PathBuf::from(value()?)),
            "--tls-key" => key = Some(PathBuf::from(value()?)),
            "--oidc-config-url" => config_url = Some(value()?),
            "--client-id" => client_id = Some(value()?),
            "--client-secret" => client_secret = Some(value()?),
            "--oidc-claim" => claim = Some(value()?),
            "--oidc-attribute" => attribute = Some(value()?),
            "--oidc-allow-http" => allow_http = true,
            "--events-max-age" => {
                let v = value()?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--events-max-age {v}: not a number of seconds"))?;
                a.events.max_age_secs = (secs > 0).then_some(secs);
            }
            "--events-max-count" => {
                let v = value()?;
                let n = v
                    .parse()
                    .map_err(|_| format!("--events-max-count {v}: not a number"))?;
                a.events.max_count = Some(n);
            }
            "--max-connections" => a.server.max_connections = positive(&flag, &value()?)?,
            "--max-in-flight" => a.server.max_in_flight = positive(&flag, &value()?)?,
            "--max-in-flight-per-directory" => {
                a.server.max_in_flight_per_directory = positive(&flag, &value()?)?
            }
            "--rate-limit" => rate = Some(positive(&flag, &value()?)?),
            "--rate-burst" => burst = Some(positive(&flag, &value()?)?),
            "--log-format" => {
                a.activity = match value()?.as_str() {
                    "human" => Some(LogFormat::Human),
                    "json" => Some(LogFormat::Json),
                    other => {
                        return Err(format!("--log-format must be human or json, not {other}"))
                    }
                }
            }
            "--quiet" => quiet = true,
            "--keep-events" => a.keep_events = true,
            "--events-lease-secs" => {
                let secs = positive(&flag, &value()?)? as u64;
                a.event_lease_ms = secs.saturating_mul(1000);
            }
            "--admin-remote" => a.admin_remote = true,
            "--no-admin" => a.admin = false,
            other => return Err(format!("unknown flag {other} (see --help)")),
        }
    }
    if quiet {
        a.activity = None;
    }
    if a.admin_remote && !a.admin {
        return Err("--admin-remote and --no-admin contradict each other".into());
    }
    a.server.rate_limit = match (rate, burst) {
        (Some(r), b) => {
            let per_second = u32::try_from(r).map_err(|_| "--rate-limit is too large")?;
            let burst = u32::try_from(b.unwrap_or(r.saturating_mul(2)))
                .map_err(|_| "--rate-burst is too large")?;
            Some(scim::server::RateLimit { per_second, burst })
        }
        (None, Some(_)) => return Err("--rate-burst needs --rate-limit".into()),
        (None, None) => None,
    };
    a.tls = match (cert, key) {
        (Some(cert_chain), Some(private_key)) => Some(TlsFiles {
            cert_chain,
            private_key,
        }),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    a.oidc = match (config_url, client_id, client_secret) {
        (Some(config_url), Some(client_id), Some(client_secret)) => Some(OidcArgs {
            config_url,
            client_id,
            client_secret,
            claim: claim.unwrap_or_else(|| "email".into()),
            attribute: attribute.unwrap_or_else(|| "email".into()),
            allow_http,
        }),
        (None, None, None) => None,
        _ => return Err("--oidc-config-url, --client-id and --client-secret go together".into()),
    };
    Ok(a)
}

/// A count flag's value: a whole number of at least 1.
fn positive(flag: &str, v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag} {v}: not a whole number of at least 1"))
}

// The process's allocator: mimalloc (the library sets none; a host keeps its own). A
// request allocates many small, short-lived buffers on the runtime's workers; glibc malloc
// spent about 12,000 instructions of a GET by id on them (callgrind), mimalloc's
// per-thread free lists a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The process's logger: warnings and errors of the library (an outbox drop, a failed
/// accept) go to stderr; the library's access log (target `scim::access`) and serve's own
/// change events become activity lines on stdout, unless `--quiet`.
///
/// Lines go through a bounded queue to a writer thread: a stdout nobody reads (a full
/// pipe) or a slow terminal never holds up a request; beyond [`ACTIVITY_BACKLOG`] waiting
/// lines, new ones are dropped and counted, and the count goes to stderr.
struct Activity {
    format: Option<LogFormat>,
    /// Directory id → name, for the lines (an id not found here is shown as is).
    names: std::sync::RwLock<std::collections::HashMap<String, String>>,
    out: std::sync::mpsc::SyncSender<Output>,
    dropped: std::sync::atomic::AtomicU64,
}

/// Activity lines waiting for stdout at most.
const ACTIVITY_BACKLOG: usize = 1024;

enum Output {
    Line(String),
    /// Answered once every line queued before it is written.
    Flush(std::sync::mpsc::Sender<()>),
}

const ACCESS: &str = "scim::access";

impl log::Log for Activity {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
            || (self.format.is_some() && m.target() == ACCESS && m.level() <= log::Level::Info)
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        if r.target() == ACCESS && r.level() == log::Level::Info {
            self.request(r.key_values());
        } else {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

impl Activity {
    fn name(&self, directory_id: &str) -> String {
        self.names
            .read()
            .ok()
            .and_then(|n| n.get(directory_id).cloned())
            .unwrap_or_else(|| directory_id.to_owned())
    }

    /// One line per SCIM request, from the access log's fields: never the token (the
    /// library does not log it) nor the query (it does not log that either).
    fn request(&self, kv: &dyn log::kv::Source) {
        let Some(format) = self.format else { return };
        let text = |k: &str| {
            kv.get(log::kv::Key::from(k))
                .map_or_else(|| "-".to_owned(), |v| v.to_string())
        };
        let status = kv
            .get(log::kv::Key::from("status"))
            .and_then(|v| v.to_u64())
            .unwrap_or(0);
        let ms = kv
            .get(log::kv::Key::from("duration_ms"))
            .and_then(|v| v.to_f64())
            .unwrap_or(0.0);
        let (id, method, path) = (text("directory"), text("method"), text("path"));
        // The admin API's own requests (a console polling the activity feed) are not
        // provisioning activity.
        if path.starts_with("/admin/") {
            return;
        }
        let name = if id == "-" {
            id.clone()
        } else {
            self.name(&id)
        };
        let line = match format {
            LogFormat::Human => {
                format!("{}  {name}  {method} {path} {status} {ms:.1} ms", now())
            }
            LogFormat::Json => serde_json::json!({
                "time": now(),
                "type": "request",
                "directory": name,
                "directory_id": id,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": (ms * 1000.0).round() / 1000.0,
            })
            .to_string(),
        };
        self.print(line);
    }

    /// One line per change event: its kind, whom it is about, and the services whose
    /// records it carries.
    fn event(&self, directory_id: &str, e: &scim::store::Event) {
        let Some(format) = self.format else { return };
        let summary = scim::events::EventSummary::of(e);
        let line = match format {
            LogFormat::Human => {
                format!("{}  {}  {summary}", now(), self.name(directory_id))
            }
            LogFormat::Json => {
                let mut o = serde_json::json!({
                    "time": now(),
                    "type": "event",
                    "directory": self.name(directory_id),
                    "directory_id": directory_id,
                    "seq": e.seq,
                    "kind": e.kind,
                    "resource_type": e.resource_kind,
                    "resource_id": e.resource_id,
                    "name": summary.name,
                    "services": summary.services,
                });
                if let Some(m) = summary.members {
                    o["members"] = m.into();
                }
                o.to_string()
            }
        };
        self.print(line);
    }
}

/// Now, to the second (UTC).
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    rfc3339(t.replace_nanosecond(0).unwrap_or(t))
}

impl Activity {
    /// Queue one line for stdout, or count it dropped when the queue is full.
    fn print(&self, line: String) {
        if let Err(std::sync::mpsc::TrySendError::Full(_)) = self.out.try_send(Output::Line(line)) {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Wait (up to `patience`) until every line queued so far is written.
    fn flush(&self, patience: std::time::Duration) {
        let deadline = std::time::Instant::now() + patience;
        let (done, written) = std::sync::mpsc::channel();
        let mut msg = Output::Flush(done);
        loop {
            match self.out.try_send(msg) {
                Ok(()) => break,
                Err(std::sync::mpsc::TrySendError::Full(m))
                    if std::time::Instant::now() < deadline =>
                {
                    msg = m;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
        let _ = written.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

/// The writer thread: activity lines to stdout, in order; a closed stdout is not an error
/// worth stopping for.
fn write_activity(lines: std::sync::mpsc::Receiver<Output>, activity: &'static Activity) {
    use std::io::Write;
    for output in lines {
        match output {
            Output::Line(line) => {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Output::Flush(done) => {
                let _ = done.send(());
            }
        }
        let dropped = activity
            .dropped
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            eprintln!("WARN serve: {dropped} activity lines dropped: stdout did not keep up");
        }
    }
}

/// The consumer group serve applies events as (see `Engine::next_group_events`): with
/// several instances on one database, each event is printed once, by whichever instance
/// holds the directory's stream.
const EVENT_GROUP: &str = "serve";

/// Most events serve takes at once.
const EVENT_BATCH: usize = 256;

/// How long serve lets events gather after a batch that was not full, before it asks
/// for the next. Each round costs the same whatever it carries (taking and
/// acknowledging are write transactions that wait for a commit, and every commit wakes
/// the consumer): without this pause, under 32 writing clients the consumer ran a round
/// per group commit, a tenth of serve's CPU. An event line comes at most this much later.
const EVENT_LINGER: std::time::Duration = std::time::Duration::from_millis(20);

/// serve is the host: it applies (prints) its directory's change events and acknowledges
/// them, which also keeps the outbox empty. Returns when `stop` is set and nothing is left.
fn consume_events(
    engine: Arc<Engine>,
    directory_id: String,
    activity: &'static Activity,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let wait = std::time::Duration::from_millis(500);
    loop {
        match engine.next_group_events(&directory_id, EVENT_GROUP, EVENT_BATCH, wait) {
            Ok(events) => {
                for e in &events {
                    activity.event(&directory_id, e);
                }
                if let Some(last) = events.last() {
                    if let Err(e) = engine.ack_group_events(&directory_id, EVENT_GROUP, last.seq) {
                        log::error!(target: "serve", "cannot acknowledge events: {e}");
                    }
                    if events.len() < EVENT_BATCH && !stop.load(Ordering::Acquire) {
                        // Writes are arriving: let a batch gather (see `EVENT_LINGER`).
                        std::thread::sleep(EVENT_LINGER);
                    }
                } else if stop.load(Ordering::Acquire) {
                    return;
                }
            }
            Err(e) => {
                log::error!(target: "serve", "cannot read events: {e}");
                if stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(wait);
            }
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let (out, lines) = std::sync::mpsc::sync_channel(ACTIVITY_BACKLOG);
    let activity: &'static Activity = Box::leak(Box::new(Activity {
        format: args.activity,
        names: Default::default(),
        out,
        dropped: Default::default(),
    }));
    if log::set_logger(activity).is_ok() {
        log::set_max_level(if args.activity.is_some() {
            log::LevelFilter::Info
        } else {
            log::LevelFilter::Warn
        });
    }
    let db = args.data.join("libscim.db");
    private_data_dir(&args.data, &db)?;
    let scheme = if args.tls.is_some() { "https" } else { "http" };
    // The admin API's credential: a fresh one each start, shown once below.
    let admin = if args.admin {
        let (options, credential) = AdminOptions::generate().map_err(|e| e.to_string())?;
        Some((options.allow_remote(args.admin_remote), credential))
    } else {
        None
    };
    // Bound before the engine is made, so that with port 0 the tenant URL, the login and
    // redirect URIs name the port actually bound.
    let bound = Server::bind(ServerOptions {
        addr: args.listen,
        tls: args.tls.clone(),
        admin: admin.as_ref().map(|(o, _)| o.clone()),
        ..args.server.clone()
    })
    .map_err(|e| e.to_string())?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}", bound.local_addr()));
    // The URL may hold a password: it is not repeated in messages.
    let (location, shown) = match &args.database {
        Some(url) => (PathBuf::from(url), "the PostgreSQL database".to_owned()),
        None => (db.clone(), db.display().to_string()),
    };
    let key_file = args
        .secrets_key_file
        .clone()
        .unwrap_or_else(|| args.data.join("secrets.key"));
    // On a shared database the engine refuses a key that does not open what other
    // instances sealed: say which file to fix.
    let key_hint = match &args.database {
        Some(_) => format!(
            " (every instance on this database needs the same secrets key: copy theirs to {})",
            key_file.display()
        ),
        None => String::new(),
    };
    let engine = Arc::new(
        Engine::open(
            Some(&location),
            EngineConfig {
                public_url,
                secrets_key: Some(scim::secret::key_file(&key_file).map_err(|e| e.detail)?),
                events: args.events,
                event_lease_ms: args.event_lease_ms,
                ..EngineConfig::default()
            },
        )
        .map_err(|e| format!("cannot open {shown}: {e}{key_hint}"))?,
    );

    let directory = match engine
        .directory_by_name(&args.directory)
        .map_err(|e| e.to_string())?
    {
        Some(d) => d,
        None => engine
            .create_directory(&NewDirectory {
                name: args.directory.clone(),
                domain: args.domain.clone(),
                idp: args.idp,
                services: vec![Service::Uem, Service::Access],
                settings: DirectorySettings::default(),
                // The IdP picks the profile: Workspace ONE for Okta and Entra, RFC 7643
                // for generic IdPs.
                mapping_profile: None,
            })
            .map_err(|e| e.to_string())?,
    };
    if let Some(o) = &args.oidc {
        let mut config = scim::oidc::OidcConfig::new(
            o.client_id.clone(),
            o.client_secret.clone(),
            o.config_url.clone(),
            String::new(),
        );
        config.claim = o.claim.clone();
        config.allow_http = o.allow_http;
        engine
            .set_oidc(&directory.id, config, &o.attribute)
            .map_err(|e| e.to_string())?;
        if args.database.is_some() {
            // Another instance configuring login at the same moment with another key:
            // the last write wins and the other instance stops here.
            engine
                .check_secrets_key()
                .map_err(|e| format!("{e}{key_hint}"))?;
        }
    }
    let known = known_secret(&args, &directory);
    let valid = directory.token.as_ref().is_some_and(|t| {
        !t.is_expired(time::OffsetDateTime::now_utc())
            && args.lifespan.is_none_or(|m| m == t.lifespan_months)
    });
    // A token is issued when asked, when none is valid, or when the credentials file is
    // wanted but the current secret is not known (it is never stored).
    let issued: Option<IssuedToken> =
        if args.new_token || !valid || (args.credentials_file.is_some() && known.is_none()) {
            Some(
                engine
                    .issue_token(&directory.id, args.lifespan)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };

    if let Ok(mut names) = activity.names.write() {
        for d in engine.directories().map_err(|e| e.to_string())? {
            names.insert(d.id, d.name);
        }
    }
    let stop_events = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let events = if args.keep_events {
        None
    } else {
        let (engine, id, stop) = (engine.clone(), directory.id.clone(), stop_events.clone());
        let thread = std::thread::Builder::new()
            .name("serve-events".into())
            .spawn(move || consume_events(engine, id, activity, stop))
            .map_err(|e| format!("cannot start the events thread: {e}"))?;
        Some(thread)
    };
    let server = bound.serve(engine.clone()).map_err(|e| e.to_string())?;
    let directory = engine.directory(&directory.id).map_err(|e| e.to_string())?;
    let token = directory
        .token
        .clone()
        .ok_or("the directory has no token")?;
    let secret = issued.as_ref().map(|t| t.secret.to_string()).or(known);

    println!(
        "libscim is serving SCIM 2.0 on {scheme}://{}",
        server.local_addr()
    );
    println!(
        "  directory:  {} ({:?}, domain {})",
        directory.name, directory.idp, directory.domain
    );
    println!("  tenant URL: {}", directory.tenant_url);
    match &issued {
        Some(t) => {
            println!("  token:      {}", t.secret.as_str());
            println!(
                "              (shown once; expires {})",
                rfc3339(token.expires_at)
            );
        }
        None => println!(
            "  token:      unchanged, expires {} (use --new-token to issue another)",
            rfc3339(token.expires_at)
        ),
    }
    println!();
    println!("In Okta (SCIM 2.0 Test App (OAuth Bearer Token) > Provisioning > Integration):");
    println!("  SCIM 2.0 Base Url:   {}", directory.tenant_url);
    println!("  OAuth Bearer Token:  the token above");
    println!("In Microsoft Entra ID (Enterprise application > Provisioning > Admin Credentials):");
    println!("  Tenant URL:          {}", directory.tenant_url);
    println!("  Secret Token:        the token above");
    let admin_credential = admin.as_ref().map(|(_, c)| c.as_str());
    if let Some(credential) = admin_credential {
        println!(
            "Admin API:  {}/admin/api/ (docs/admin-api.md)",
            engine.config().public_url
        );
        println!("  admin credential: {credential}");
        println!(
            "              (a new one each start; {})",
            if args.admin_remote {
                "any client may connect"
            } else {
                "loopback clients only, --admin-remote for others"
            }
        );
        println!(
            "Console:    {}/admin (sign in with the admin credential)",
            engine.config().public_url
        );
    }
    if let Some(path) = &args.credentials_file {
        write_credentials(
            path,
            &directory,
            secret.as_deref(),
            token.expires_at,
            admin_credential,
        )?;
        println!("Credentials written to {}", path.display());
    }
    if let Some(login) = &directory.login {
        println!(
            "OpenID Connect login (claim '{}' = attribute '{}'):",
            login.claim, login.attribute
        );
        println!(
            "  Sign-in redirect URI (register it at the IdP): {}",
            login.redirect_uri
        );
        println!(
            "  Login URL:                                     {}",
            login.login_url
        );
    }
    println!("Health check: GET /healthz. Stop with Ctrl-C.");
    // Activity lines start after the banner (those of early requests waited in the queue).
    std::thread::Builder::new()
        .name("serve-activity".into())
        .spawn(move || write_activity(lines, activity))
        .map_err(|e| format!("cannot start the activity thread: {e}"))?;

    wait_for_signal();
    println!("stopping: finishing in-flight requests");
    server.stop();
    stop_events.store(true, std::sync::atomic::Ordering::Release);
    if let Some(events) = events {
        let _ = events.join();
    }
    activity.flush(std::time::Duration::from_secs(10));
    Ok(())
}

/// The data directory, only its owner may enter (0700, also when it existed), with the
/// database and its WAL and shared-memory files only its owner may read (0600; SQLite
/// gives new WAL and SHM files the database's mode, and a new database is made 0600).
/// Beside them, `secrets.key` (0600, see [`scim::secret::key_file`]) holds the key sealing
/// stored secrets: a copy of the database alone does not reveal them.
fn private_data_dir(data: &std::path::Path, db: &std::path::Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(data)
        .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = |path: &std::path::Path, mode: u32| -> Result<(), String> {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => Err(format!(
                    "{} is a symbolic link; refusing to use it",
                    path.display()
                )),
                Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("cannot make {} private: {e}", path.display())),
                Err(_) => Ok(()),
            }
        };
        // The directory itself may be a link the admin chose; the files may not.
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", data.display()))?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            private(std::path::Path::new(&name), 0o600)?;
        }
    }
    Ok(())
}

/// Write a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The current token's secret, when an earlier credentials file holds it.
fn known_secret(args: &Args, dir: &scim::directory::Directory) -> Option<String> {
    let text = std::fs::read_to_string(args.credentials_file.as_ref()?).ok()?;
    let creds: serde_json::Value = serde_json::from_str(&text).ok()?;
    let secret = creds["token"].as_str()?;
    let current = dir.token.as_ref()?;
    (creds["tenant_url"] == dir.tenant_url.as_str()
        && creds["expires_at"].as_str() == Some(rfc3339(current.expires_at).as_str()))
    .then(|| secret.to_owned())
}

fn write_credentials(
    path: &std::path::Path,
    directory: &scim::directory::Directory,
    token: Option<&str>,
    expires_at: time::OffsetDateTime,
    admin_credential: Option<&str>,
) -> Result<(), String> {
    let mut body = serde_json::json!({
        "tenant_url": directory.tenant_url,
        "token": token,
        "expires_at": rfc3339(expires_at),
    });
    if let Some(c) = admin_credential {
        body["admin_credential"] = c.into();
    }
    if let Some(login) = &directory.login {
        body["login_url"] = login.login_url.clone().into();
        body["redirect_uri"] = login.redirect_uri.clone().into();
    }
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    write_private(path, &format!("{text}\n"))
}

/// Block until Ctrl-C or SIGTERM.
fn wait_for_signal() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}
