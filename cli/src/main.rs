//! `blobio`: list, read, copy, move and delete objects in local folders, S3
//! and Azure Blob Storage from the shell, through the blobio library.
//!
//! Everything a store does is the library's (`blobio::open` with the URL
//! and the `-o` options, then `Backend` methods); this crate parses the
//! command line, splits arguments into store and key, streams between
//! stores, and reports.

mod fmt;
mod loc;
mod progress;
mod transfer;

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use blobio::{Backend, Error, ErrorKind, ObjectInfo, Options};

use loc::{Kind, Loc};

const HELP: &str = "\
blobio - objects in local folders, S3 and Azure Blob Storage

usage: blobio [OPTIONS] COMMAND ARGS...

commands:
  ls [-l] [-r] URL       list the objects under URL, one level (-r: all);
                         -l adds size and modification time
  cat URL...             write objects to standard output
  cp [-r] SRC DST        copy an object (-r: every object under SRC, in
                         parallel); SRC or DST may be a local path, or - for
                         standard input / output; within one store the
                         store copies (server-side), no byte passes here
  mv [-r] SRC DST        cp, then delete the source(s)
  rm [-r] URL...         delete objects (-r: every object under URL), in
                         batches where the store has batch deletes
  stat URL               an object's size, version (ETag), modification time,
                         content type and metadata (exit status 4 when missing)
  put - DST              store standard input at DST; its size need not be
                         known (a large one goes up in parts as it is read)
  presign [--method M] [--expires S] URL
                         a URL that lets anyone holding it GET (default), PUT
                         or HEAD the object for S seconds (default 3600, at
                         most 7 days), with no credentials: S3 signs it with
                         the store's credentials, Azure makes a SAS from the
                         account key; local paths have none (exit status 7)

URLs: s3://BUCKET/KEY, az://CONTAINER/KEY (also s3a://, azure://, abfss://
and the AWS and Azure https forms), file:///PATH or a plain path. A URL
ending with / or a local folder is a folder: `cp x s3://b/dir/` writes
s3://b/dir/x. `cp -r SRC DST` puts SRC/a/b at DST/a/b.

options:
  -o [KIND:]KEY=VALUE    a store option, as blobio_open takes them
                         (README, \"Options\"): endpoint, region, access_key_id,
                         account_name, part_size, ...; it applies to every
                         S3 and Azure store of the command, or with KIND
                         (local, s3, azure) to the stores of that kind only.
                         Credentials also come from the environment
                         (AWS_ACCESS_KEY_ID, AZURE_STORAGE_KEY, ...).
  -l, --long             ls: sizes and times
  -r, -R, --recursive    ls, cp, mv, rm: everything under the URL
  -j, --jobs N           cp, mv -r: transfers in parallel (default 8)
  --json                 ls, stat: one JSON object per line
  -q, --quiet            no progress bar (it is drawn on standard error
                         only when that is a terminal)
  -h, --help             this text; --version: the version

exit status: 0 success; else the error's kind, numbered as blobio_status
in blobio.h: 2 invalid argument (also a bad command line or unknown
option), 3 invalid path, 4 not found, 5 already exists, 6 permission denied
(refused credentials), 7 unsupported, 9 circuit open, 10 timeout, 11 network,
12 server, 13 local I/O, 15 cancelled, 17 other, 18 precondition failed (an
object changed while read); 141 when standard output was closed early.
";

/// A failure: what to print and the exit status.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure { code: 2, message: format!("{}; see blobio --help", msg.into()) }
    }

    /// A library error about `what` (a URL as the user wrote it).
    pub fn of(what: &str, err: &Error) -> Failure {
        let mut cause = err.to_string();
        // The library names the key first; the URL replaces it.
        if let Some(p) = err.path() {
            if let Some(rest) = cause.strip_prefix(&format!("{p}: ")) {
                cause = rest.to_owned();
            }
        }
        let cause = cause.replace(['\n', '\r'], " ");
        let message = if what.is_empty() { cause } else { format!("{what}: {cause}") };
        Failure { code: exit_code(err.kind()), message }
    }
}

/// The exit status of an error kind: the C API's status value.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidArgument => 2,
        ErrorKind::InvalidPath => 3,
        ErrorKind::NotFound => 4,
        ErrorKind::AlreadyExists => 5,
        ErrorKind::PermissionDenied => 6,
        ErrorKind::Unsupported => 7,
        ErrorKind::ResumeNotSupported => 8,
        ErrorKind::CircuitOpen => 9,
        ErrorKind::Timeout => 10,
        ErrorKind::Network => 11,
        ErrorKind::Server => 12,
        ErrorKind::Io => 13,
        ErrorKind::Cancelled => 15,
        ErrorKind::PreconditionFailed => 18,
        ErrorKind::ChecksumMismatch => 19,
        _ => 17,
    }
}

/// Exit status when standard output was closed under us (`| head`).
pub const BROKEN_PIPE: u8 = 141;

pub struct Flags {
    pub long: bool,
    pub recursive: bool,
    pub json: bool,
    pub quiet: bool,
    pub jobs: usize,
    /// presign: seconds the URL lasts, and its method.
    pub expires: Option<u64>,
    pub method: Option<String>,
}

/// The command line once read.
struct Cli {
    command: String,
    args: Vec<String>,
    flags: Flags,
    /// (kind it is limited to, key, value)
    options: Vec<(Option<Kind>, String, String)>,
}

enum Parsed {
    Run(Cli),
    Help,
    Version,
}

fn parse_args(argv: Vec<String>) -> Result<Parsed, Failure> {
    let mut flags =
        Flags { long: false, recursive: false, json: false, quiet: false, jobs: 8, expires: None, method: None };
    let mut options = Vec::new();
    let mut positional = Vec::new();
    let mut it = argv.into_iter();
    let mut only_positional = false;
    let take_value = |it: &mut std::vec::IntoIter<String>, name: &str| {
        it.next().ok_or_else(|| Failure::usage(format!("{name} needs a value")))
    };
    while let Some(a) = it.next() {
        if only_positional || a == "-" || !a.starts_with('-') {
            positional.push(a);
            continue;
        }
        match a.as_str() {
            "--" => only_positional = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "--version" | "-V" => return Ok(Parsed::Version),
            "--long" => flags.long = true,
            "--recursive" => flags.recursive = true,
            "--json" => flags.json = true,
            "--quiet" => flags.quiet = true,
            "-o" | "--option" => options.push(parse_option(&take_value(&mut it, &a)?)?),
            "-j" | "--jobs" => flags.jobs = parse_jobs(&take_value(&mut it, &a)?)?,
            "--expires" => flags.expires = Some(parse_expires(&take_value(&mut it, &a)?)?),
            "--method" => flags.method = Some(take_value(&mut it, &a)?),
            _ if a.starts_with("--expires=") => flags.expires = Some(parse_expires(&a["--expires=".len()..])?),
            _ if a.starts_with("--method=") => flags.method = Some(a["--method=".len()..].to_owned()),
            _ if a.starts_with("--option=") => options.push(parse_option(&a["--option=".len()..])?),
            _ if a.starts_with("--jobs=") => flags.jobs = parse_jobs(&a["--jobs=".len()..])?,
            _ if a.starts_with("--") => return Err(Failure::usage(format!("unknown flag {a}"))),
            _ => {
                // Short flags, bundled (-lr) or with a value attached (-okey=v, -j4).
                for (i, c) in a[1..].char_indices() {
                    match c {
                        'l' => flags.long = true,
                        'r' | 'R' => flags.recursive = true,
                        'q' => flags.quiet = true,
                        'h' => return Ok(Parsed::Help),
                        'o' | 'j' => {
                            let rest = &a[1 + i + 1..];
                            let v = if rest.is_empty() { take_value(&mut it, &format!("-{c}"))? } else { rest.to_owned() };
                            if c == 'o' {
                                options.push(parse_option(&v)?);
                            } else {
                                flags.jobs = parse_jobs(&v)?;
                            }
                            break;
                        }
                        _ => return Err(Failure::usage(format!("unknown flag -{c}"))),
                    }
                }
            }
        }
    }
    if positional.is_empty() {
        return Err(Failure::usage("no command"));
    }
    let command = positional.remove(0);
    Ok(Parsed::Run(Cli { command, args: positional, flags, options }))
}

fn parse_expires(v: &str) -> Result<u64, Failure> {
    match v.parse::<u64>() {
        Ok(n) if (1..=7 * 24 * 3600).contains(&n) => Ok(n),
        _ => Err(Failure::usage(format!("--expires {v:?}: seconds, 1 to 604800 (7 days)"))),
    }
}

fn parse_jobs(v: &str) -> Result<usize, Failure> {
    match v.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(Failure::usage(format!("--jobs {v:?}: not a number from 1 to 256"))),
    }
}

/// `[KIND:]KEY=VALUE`, the key checked against the library's options now.
fn parse_option(s: &str) -> Result<(Option<Kind>, String, String), Failure> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(Failure::usage(format!("option {s:?} is not KEY=VALUE")));
    };
    let (kind, key) = match k.split_once(':') {
        Some((kind, key)) => {
            let kind = match kind.to_ascii_lowercase().as_str() {
                "local" | "file" => Kind::Local,
                "s3" => Kind::S3,
                "az" | "azure" => Kind::Azure,
                other => return Err(Failure::usage(format!("option {s:?}: unknown store kind {other:?} (local, s3, azure)"))),
            };
            (Some(kind), key)
        }
        None => (None, k),
    };
    Options::new().set(key, v).map_err(|e| Failure::of("", &e))?;
    Ok((kind, key.to_owned(), v.to_owned()))
}

/// The stores a command opened, by URL: each opened once.
pub struct Stores {
    options: Vec<(Option<Kind>, String, String)>,
    open: HashMap<String, Arc<dyn Backend>>,
}

impl Stores {
    pub fn get(&mut self, loc: &Loc) -> Result<Arc<dyn Backend>, Failure> {
        if let Some(s) = self.open.get(&loc.store) {
            return Ok(Arc::clone(s));
        }
        let mut opts = Options::new();
        for (kind, k, v) in &self.options {
            let applies = match kind {
                Some(kind) => *kind == loc.kind,
                None => !loc.is_local(),
            };
            if applies {
                opts.set(k, v).map_err(|e| Failure::of("", &e))?;
            }
        }
        let store: Arc<dyn Backend> = blobio::open(&loc.store, &opts)
            .map_err(|e| Failure::of(&loc.shown(), &e))?
            .into();
        self.open.insert(loc.store.clone(), Arc::clone(&store));
        Ok(store)
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse_args(argv) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("blobio {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(f) => return fail(f),
    };
    let mut stores = Stores { options: cli.options, open: HashMap::new() };
    let result = run(&cli.command, &cli.args, &cli.flags, &mut stores);
    // Close every store (joins its workers) before exiting.
    for s in stores.open.values() {
        let _ = s.close();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(f),
    }
}

fn fail(f: Failure) -> ExitCode {
    if f.code != BROKEN_PIPE {
        eprintln!("blobio: {}", f.message);
    }
    ExitCode::from(f.code)
}

fn run(command: &str, args: &[String], flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    let allowed: &[&str] = match command {
        "ls" => &["long", "recursive", "json"],
        "cp" | "mv" => &["recursive", "jobs"],
        "rm" => &["recursive"],
        "stat" => &["json"],
        "cat" | "put" => &[],
        "presign" => &["expires", "method"],
        other => return Err(Failure::usage(format!("unknown command {other:?}"))),
    };
    for (name, set) in [
        ("long", flags.long),
        ("recursive", flags.recursive),
        ("json", flags.json),
        ("jobs", flags.jobs != 8),
        ("expires", flags.expires.is_some()),
        ("method", flags.method.is_some()),
    ] {
        if set && !allowed.contains(&name) {
            return Err(Failure::usage(format!("{command} takes no --{name}")));
        }
    }
    let want = |n: std::ops::RangeInclusive<usize>, shape: &str| {
        if n.contains(&args.len()) {
            Ok(())
        } else {
            Err(Failure::usage(format!("usage: blobio {command} {shape}")))
        }
    };
    match command {
        "ls" => {
            want(1..=1, "[-l] [-r] [--json] URL")?;
            ls(&Loc::parse(&args[0]).map_err(Failure::usage)?, flags, stores)
        }
        "stat" => {
            want(1..=1, "[--json] URL")?;
            stat(&Loc::parse(&args[0]).map_err(Failure::usage)?, flags, stores)
        }
        "cat" => {
            want(1..=usize::MAX, "URL...")?;
            for a in args {
                let src = Loc::parse(a).map_err(Failure::usage)?;
                transfer::cat(&src, flags, stores)?;
            }
            Ok(())
        }
        "cp" | "mv" => {
            want(2..=2, "[-r] SRC DST")?;
            transfer::copy(&args[0], &args[1], command == "mv", flags, stores)
        }
        "put" => {
            want(2..=2, "- DST")?;
            transfer::copy(&args[0], &args[1], false, flags, stores)
        }
        "rm" => {
            want(1..=usize::MAX, "[-r] URL...")?;
            rm(args, flags, stores)
        }
        "presign" => {
            want(1..=1, "[--method GET|PUT|HEAD] [--expires S] URL")?;
            presign(&Loc::parse(&args[0]).map_err(Failure::usage)?, flags, stores)
        }
        _ => unreachable!(),
    }
}

/// Writes to stdout, turning a closed pipe into the quiet exit status.
pub fn out_err(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure { code: BROKEN_PIPE, message: String::new() }
    } else {
        Failure { code: 13, message: format!("standard output: {e}") }
    }
}

fn list_objects(store: &dyn Backend, prefix: &str) -> blobio::Result<Vec<ObjectInfo>> {
    match store.as_object_lister() {
        Some(l) => l.list_objects(prefix),
        None => Ok(store
            .list(prefix)?
            .into_iter()
            .map(|path| ObjectInfo { path, size: 0, last_modified: std::time::UNIX_EPOCH })
            .collect()),
    }
}

fn ls(loc: &Loc, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    let store = stores.get(loc)?;
    let prefix = &loc.key;
    let objects = list_objects(&*store, prefix).map_err(|e| Failure::of(&loc.shown(), &e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut last_dir: Option<String> = None;
    for o in &objects {
        if !flags.recursive {
            // One level: what lies deeper shows as its folder, once.
            if let Some(slash) = o.path[prefix.len().min(o.path.len())..].find('/') {
                let dir = &o.path[..prefix.len() + slash + 1];
                if last_dir.as_deref() != Some(dir) {
                    last_dir = Some(dir.to_owned());
                    let url = loc.show(dir);
                    if flags.json {
                        writeln!(out, "{{\"url\":{},\"key\":{},\"dir\":true}}", fmt::json_str(&url), fmt::json_str(dir))
                    } else if flags.long {
                        writeln!(out, "{:>12}  {:24}  {url}", "DIR", "")
                    } else {
                        writeln!(out, "{url}")
                    }
                    .map_err(out_err)?;
                }
                continue;
            }
        }
        let url = loc.show(&o.path);
        if flags.json {
            writeln!(
                out,
                "{{\"url\":{},\"key\":{},\"size\":{},\"last_modified\":{}}}",
                fmt::json_str(&url),
                fmt::json_str(&o.path),
                o.size,
                fmt::json_str(&fmt::rfc3339(o.last_modified))
            )
        } else if flags.long {
            writeln!(out, "{:>12}  {:24}  {url}", o.size, fmt::rfc3339(o.last_modified))
        } else {
            writeln!(out, "{url}")
        }
        .map_err(out_err)?;
    }
    out.flush().map_err(out_err)
}

fn stat(loc: &Loc, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    let store = stores.get(loc)?;
    if loc.key.is_empty() || loc.key.ends_with('/') {
        return Err(Failure { code: 4, message: format!("{}: not found", loc.shown()) });
    }
    let meta = store.head(&loc.key).map_err(|e| match e.kind() {
        blobio::ErrorKind::NotFound => Failure { code: 4, message: format!("{}: not found", loc.shown()) },
        _ => Failure::of(&loc.shown(), &e),
    })?;
    let url = loc.shown();
    let modified = meta.last_modified.map(fmt::rfc3339);
    let text = if flags.json {
        let opt = |v: &Option<String>| v.as_deref().map_or("null".to_owned(), fmt::json_str);
        let metadata: Vec<String> =
            meta.metadata.iter().map(|(k, v)| format!("{}:{}", fmt::json_str(k), fmt::json_str(v))).collect();
        format!(
            "{{\"url\":{},\"key\":{},\"size\":{},\"version\":{},\"last_modified\":{},\"content_type\":{},\"metadata\":{{{}}},\"store\":{}}}\n",
            fmt::json_str(&url),
            fmt::json_str(&loc.key),
            meta.size,
            opt(&meta.version),
            opt(&modified),
            opt(&meta.content_type),
            metadata.join(","),
            fmt::json_str(store.kind())
        )
    } else {
        let mut t = format!("url:           {url}\nsize:          {}\n", meta.size);
        for (name, value) in [("version", &meta.version), ("last modified", &modified), ("content type", &meta.content_type)] {
            if let Some(v) = value {
                t.push_str(&format!("{:<15}{v}\n", format!("{name}:")));
            }
        }
        for (k, v) in &meta.metadata {
            t.push_str(&format!("{:<15}{v}\n", format!("meta {k}:")));
        }
        t.push_str(&format!("store:         {}\n", store.kind()));
        t
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(out_err)
}

fn presign(loc: &Loc, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    let method = match flags.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("GET") => blobio::PresignMethod::Get,
        Some("PUT") => blobio::PresignMethod::Put,
        Some("HEAD") => blobio::PresignMethod::Head,
        Some(other) => return Err(Failure::usage(format!("--method {other}: GET, PUT or HEAD"))),
    };
    if loc.key.is_empty() || loc.key.ends_with('/') {
        return Err(Failure::usage(format!("{}: presign names an object, not a folder", loc.shown())));
    }
    let store = stores.get(loc)?;
    let expires = std::time::Duration::from_secs(flags.expires.unwrap_or(3600));
    let url = store.presign(method, &loc.key, expires).map_err(|e| Failure::of(&loc.shown(), &e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}").map_err(out_err)
}

fn rm(args: &[String], flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    // Keys per store, in the order given, then one batch per store.
    let mut batches: Vec<(Loc, Vec<String>)> = Vec::new();
    for a in args {
        let loc = Loc::parse(a).map_err(Failure::usage)?;
        let store = stores.get(&loc)?;
        let keys = if flags.recursive {
            let prefix = loc.dir_prefix();
            let mut keys: Vec<String> = store.list(&prefix).map_err(|e| Failure::of(&loc.shown(), &e))?;
            if !loc.key.is_empty() && !loc.key.ends_with('/') && store.exists(&loc.key).unwrap_or(false) {
                keys.push(loc.key.clone());
            }
            keys
        } else {
            if loc.key.is_empty() || loc.key.ends_with('/') {
                return Err(Failure::usage(format!("{a} is a folder: rm -r deletes what is under it")));
            }
            vec![loc.key.clone()]
        };
        match batches.iter_mut().find(|(l, _)| l.store == loc.store) {
            Some((_, ks)) => ks.extend(keys),
            None => batches.push((loc, keys)),
        }
    }
    for (loc, keys) in batches {
        let store = stores.get(&loc)?;
        delete_keys(&*store, &loc, &keys)?;
    }
    Ok(())
}

/// Deletes `keys` of one store, as a batch when the store has batch deletes.
pub fn delete_keys(store: &dyn Backend, loc: &Loc, keys: &[String]) -> Result<(), Failure> {
    if keys.is_empty() {
        return Ok(());
    }
    match store.as_batch_deleter() {
        Some(b) if keys.len() > 1 => {
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            b.delete_batch(&refs).map_err(|e| {
                let what = e.path().map(|p| loc.show(p)).unwrap_or_else(|| loc.shown());
                Failure::of(&what, &e)
            })
        }
        _ => {
            for k in keys {
                store.delete(k).map_err(|e| Failure::of(&loc.show(k), &e))?;
            }
            Ok(())
        }
    }
}
