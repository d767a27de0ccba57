//! Model-based tests: a seeded random sequence of operations over a small
//! space of nasty keys, run against a store and against an in-memory model
//! (a `BTreeMap` of key to bytes), compared after every step.
//!
//! Operations: write, streamed writes of known and unknown size in random
//! chunks, read, read_to_at and read_range at random offsets, stat_file,
//! head, exists, delete, delete_batch, list / list_objects with random
//! prefixes, list_directories, copy and rename. Keys: unicode, spaces,
//! `% = # ? & ~ +`, a leading `/` (the same object as without it), keys of
//! 1,000 bytes, keys that are string prefixes of others, a key that is a
//! "directory" of others, hidden names. Every answer is compared with the
//! model's (content, sizes, listings, error kinds); after every step that
//! may change the store, its `list_objects` of the run's prefix must equal
//! the model (paths and sizes); every 250 steps and at the end every
//! object is read back and `list` and `list_directories` are compared too.
//!
//! A divergence panics naming the backend, the seed, the step and the
//! operation, with the operations before it and the command that replays
//! it. What a server is documented to get wrong comes from
//! `conformance::Options` (tests/conformance/mod.rs), never from here.
//!
//! The normal run is one fixed seed of 2,000 steps per store. Longer runs:
//! `BLOBIO_MODEL_STEPS=20000 BLOBIO_MODEL_SEEDS=1,2,3 cargo test
//! --all-features --test model` (the remote stores need the servers of
//! `scripts/test --servers-only`).

mod common;
mod conformance;
mod support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io::{self, Read};

use blobio::{Backend, ErrorKind, LocalBackend, PutOptions};
use conformance::{pseudo_random_bytes, Options};

/// SplitMix64: tiny, seedable, and good enough to pick operations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Steps of one run: `BLOBIO_MODEL_STEPS`, default 2,000.
fn steps() -> usize {
    match std::env::var("BLOBIO_MODEL_STEPS") {
        Ok(v) => v.parse().expect("BLOBIO_MODEL_STEPS is a number of steps"),
        Err(_) => 2000,
    }
}

/// Seeds to run: `BLOBIO_MODEL_SEEDS` (comma-separated), default `fixed`.
fn seeds(fixed: u64) -> Vec<u64> {
    match std::env::var("BLOBIO_MODEL_SEEDS") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().expect("BLOBIO_MODEL_SEEDS is a list of numbers"))
            .collect(),
        Err(_) => vec![fixed],
    }
}

/// One key of the space: what is passed to the store, and the object it
/// names (without leading `/`s).
#[derive(Clone)]
struct Key {
    given: String,
    canonical: String,
}

/// The run's key space under `p` (ends in `/`), leaving out what the store
/// is documented not to hold.
fn key_space(p: &str, o: &Options) -> Vec<Key> {
    let mut rel: Vec<String> = [
        "a",
        "a/b",
        "a/b/c",
        "ab",
        "a b/\u{fc}\u{20ac} \u{1f600}",
        "100% sure",
        "plus+sign",
        "k=v&x=y",
        "#hash?q",
        "~tilde/x",
        "cfg/.env",
        "cfg/app",
        "e",
        "e/x",
        "lead",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Two 1,000-byte keys (the run's prefix included), one a string prefix
    // of the other, in components every file system holds.
    let long_len = 1000 - p.len();
    let long: String = (0..long_len)
        .map(|i| if i % 120 == 119 { '/' } else { (b'L' + (i % 7) as u8) as char })
        .collect();
    let long = long.trim_end_matches('/').to_owned();
    let shorter = long[..long.len() - 5].trim_end_matches('/').to_owned();
    rel.push(long);
    rel.push(shorter);

    let mut keys: Vec<Key> = rel
        .into_iter()
        .filter(|r| o.keys_with_plus_and_percent || !r.contains(['+', '%']))
        .filter(|r| o.keys_with_sub_delimiters || !r.contains(['&', '~', '=']))
        .filter(|r| p.len() + r.len() <= o.longest_key)
        .map(|r| Key {
            given: format!("{p}{r}"),
            canonical: format!("{p}{r}"),
        })
        .collect();
    // A leading `/` names the same object as the key without it.
    keys.push(Key {
        given: format!("/{p}lead"),
        canonical: format!("{p}lead"),
    });
    keys
}

/// A source that hands out `data` in random chunks of 1..=`max` bytes.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    rng: SplitMix64,
    max: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.data.len() - self.pos;
        let n = left.min(buf.len()).min(1 + self.rng.below(self.max));
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One operation, as the divergence message shows it.
#[derive(Clone)]
enum Op {
    Write { key: usize, size: usize, seed: u64 },
    WriteReader { key: usize, size: usize, seed: u64, known: bool, chunk: usize },
    Read { key: usize },
    ReadToAt { key: usize, offset: u64 },
    ReadRange { key: usize, offset: u64, len: usize },
    Stat { key: usize },
    Head { key: usize },
    Exists { key: usize },
    Delete { key: usize },
    DeleteBatch { keys: Vec<usize> },
    List { prefix: String },
    ListObjects { prefix: String },
    ListDirectories { dir: String },
    Copy { from: usize, to: usize },
    Rename { from: usize, to: usize },
}

impl Op {
    /// Whether the op may change what the store holds.
    fn changes(&self) -> bool {
        matches!(
            self,
            Op::Write { .. }
                | Op::WriteReader { .. }
                | Op::Delete { .. }
                | Op::DeleteBatch { .. }
                | Op::Copy { .. }
                | Op::Rename { .. }
        )
    }
}

/// `Op` with its keys spelled out.
struct Shown<'a>(&'a Op, &'a [Key]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = |i: &usize| short(&self.1[*i].given);
        match self.0 {
            Op::Write { key, size, .. } => write!(f, "write({}, {size} bytes)", k(key)),
            Op::WriteReader { key, size, known, chunk, .. } => write!(
                f,
                "write_reader({}, {size} bytes, size {}, chunks of 1..={chunk})",
                k(key),
                if *known { "known" } else { "unknown" }
            ),
            Op::Read { key } => write!(f, "read({})", k(key)),
            Op::ReadToAt { key, offset } => write!(f, "read_to_at({}, {offset})", k(key)),
            Op::ReadRange { key, offset, len } => {
                write!(f, "read_range({}, {offset}, {len} bytes)", k(key))
            }
            Op::Stat { key } => write!(f, "stat_file({})", k(key)),
            Op::Head { key } => write!(f, "head({})", k(key)),
            Op::Exists { key } => write!(f, "exists({})", k(key)),
            Op::Delete { key } => write!(f, "delete({})", k(key)),
            Op::DeleteBatch { keys } => {
                let names: Vec<String> = keys.iter().map(k).collect();
                write!(f, "delete_batch([{}])", names.join(", "))
            }
            Op::List { prefix } => write!(f, "list({})", short(prefix)),
            Op::ListObjects { prefix } => write!(f, "list_objects({})", short(prefix)),
            Op::ListDirectories { dir } => write!(f, "list_directories({})", short(dir)),
            Op::Copy { from, to } => write!(f, "copy({}, {})", k(from), k(to)),
            Op::Rename { from, to } => write!(f, "rename({}, {})", k(from), k(to)),
        }
    }
}

/// A key for a message: long ones shortened.
fn short(s: &str) -> String {
    if s.len() <= 80 {
        return format!("{s:?}");
    }
    let mut head = 40;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    format!("{:?}...({} bytes)", &s[..head], s.len())
}

/// One run: the store, the model, and where the run is.
struct Run<'a> {
    b: &'a dyn Backend,
    o: &'a Options,
    name: &'a str,
    seed: u64,
    steps: usize,
    p: String,
    keys: Vec<Key>,
    model: BTreeMap<String, Vec<u8>>,
    /// Every name that has been a directory of keys, where directories
    /// outlive their keys (`Options::directories_outlive_their_keys`).
    old_dirs: BTreeSet<String>,
    step: usize,
    history: VecDeque<String>,
}

impl Run<'_> {
    /// Stops the run: backend, seed, step, op, the ops before it, and how
    /// to replay.
    fn diverged(&self, what: String) -> ! {
        let before: Vec<&String> = self.history.iter().collect();
        let sizes = |v: Vec<(String, u64)>| -> Vec<String> {
            v.into_iter().map(|(k, n)| format!("{} ({n} bytes)", short(&k))).collect()
        };
        let listed = match self.b.as_object_lister().map(|l| l.list_objects(&self.p)) {
            Some(Ok(v)) => sizes(v.into_iter().map(|o| (o.path, o.size)).collect()),
            other => vec![format!("{other:?}")],
        };
        panic!(
            "model divergence on {} (seed {}, step {} of {}): {what}\n\
             last operations (oldest first): {before:#?}\n\
             the store lists: {listed:#?}\nthe model holds: {:#?}\n\
             replay: BLOBIO_MODEL_SEEDS={} BLOBIO_MODEL_STEPS={} cargo test --all-features \
             --test model {}",
            self.name,
            self.seed,
            self.step,
            self.steps,
            sizes(self.model_list(&self.p)),
            self.seed,
            self.step + 1,
            self.name
        )
    }

    fn check<T: PartialEq + fmt::Debug>(&self, op: &str, got: T, want: T) {
        if got != want {
            self.diverged(format!("{op}: the store gave {got:?}, the model {want:?}"));
        }
    }

    /// `result` must be the error `kind`.
    fn check_err<T: fmt::Debug>(&self, op: &str, result: blobio::Result<T>, kind: ErrorKind) {
        match result {
            Err(e) if e.kind() == kind => {}
            other => self.diverged(format!("{op}: expected {kind:?}, the store gave {other:?}")),
        }
    }

    fn ok<T>(&self, op: &str, result: blobio::Result<T>) -> T {
        result.unwrap_or_else(|e| self.diverged(format!("{op}: the store failed: {e}")))
    }

    /// Whether `key` is now a "directory": some object lies below it.
    fn is_dir(&self, key: &str) -> bool {
        let below = format!("{key}/");
        self.model.range(below.clone()..).next().is_some_and(|(k, _)| k.starts_with(&below))
    }

    /// Whether an object at `key` would need a name that is also a
    /// directory: `key` has objects below it, or an object is one of its
    /// parents.
    fn clashes(&self, key: &str) -> bool {
        self.is_dir(key)
            || self.old_dirs.contains(key)
            || key.match_indices('/').any(|(i, _)| self.model.contains_key(&key[..i]))
    }

    /// Whether the store can be asked about `key` now (see
    /// `Options::prefix_keys_are_addressable`).
    fn addressable(&self, key: &str) -> bool {
        self.o.prefix_keys_are_addressable || !self.clashes(key)
    }

    /// Whether the store can hold an object at `key` now.
    fn can_hold(&self, key: &str) -> bool {
        self.o.objects_and_directories_share_names || !self.clashes(key)
    }

    /// A random listing prefix: the run's prefix, a random cut of a key,
    /// or a name no key has; sometimes with a leading `/`.
    fn random_prefix(&self, rng: &mut SplitMix64) -> String {
        let rel = match rng.below(10) {
            0 | 1 => String::new(),
            2 => rng.pick(&["a", "a/", "a/b", "zz", "L", "~", "#", "cfg/", "e"]).to_string(),
            _ => {
                let key = &rng.pick(&self.keys).canonical[self.p.len()..];
                let mut cut = rng.below(key.len() + 1);
                while !key.is_char_boundary(cut) {
                    cut -= 1;
                }
                key[..cut].to_owned()
            }
        };
        // A cut that ends in a `.` or `..` component is not a prefix.
        let last = rel.rsplit('/').next().unwrap_or("");
        let rel = if last == "." || last == ".." { String::new() } else { rel };
        let slash = if rng.below(10) == 0 { "/" } else { "" };
        format!("{slash}{}{rel}", self.p)
    }

    /// A random directory for list_directories: a key's parent at some
    /// depth, with or without the trailing `/`, or a key itself.
    fn random_dir(&self, rng: &mut SplitMix64) -> String {
        let key = &rng.pick(&self.keys).canonical[self.p.len()..];
        let parts: Vec<&str> = key.split('/').collect();
        let depth = rng.below(parts.len() + 1);
        let mut rel = parts[..depth].join("/");
        if !rel.is_empty() && rng.below(2) == 0 {
            rel.push('/');
        }
        format!("{}{rel}", self.p)
    }

    fn random_op(&self, rng: &mut SplitMix64) -> Op {
        let n = self.keys.len();
        let key = rng.below(n);
        let size = match rng.below(20) {
            0 | 1 => 0,
            2..=13 => 1 + rng.below(300),
            14..=18 => 301 + rng.below(20_000),
            _ => 20_001 + rng.below(180_000),
        };
        let len_of = |k: usize| {
            self.model.get(&self.keys[k].canonical).map_or(0, |v| v.len() as u64)
        };
        // Offsets mostly inside the object, sometimes at or past its end.
        let offset = |rng: &mut SplitMix64, k: usize| {
            let len = len_of(k);
            match rng.below(8) {
                0 => len + rng.below(3) as u64,
                1 => 0,
                _ => rng.next() % (len + 1),
            }
        };
        match rng.below(100) {
            0..=17 => Op::Write { key, size, seed: rng.next() },
            18..=27 => Op::WriteReader {
                key,
                size,
                seed: rng.next(),
                known: rng.below(3) == 0,
                chunk: *rng.pick(&[1, 7, 100, 4096, 70_000]),
            },
            28..=37 => Op::Read { key },
            38..=43 => Op::ReadToAt { key, offset: offset(rng, key) },
            44..=50 => Op::ReadRange { key, offset: offset(rng, key), len: 1 + rng.below(5000) },
            51..=54 => Op::Stat { key },
            55..=57 => Op::Head { key },
            58..=61 => Op::Exists { key },
            62..=69 => Op::Delete { key },
            70..=73 => {
                let mut keys: Vec<usize> = (0..1 + rng.below(4)).map(|_| rng.below(n)).collect();
                keys.sort_unstable();
                keys.dedup();
                Op::DeleteBatch { keys }
            }
            74..=78 => Op::List { prefix: self.random_prefix(rng) },
            79..=83 => Op::ListObjects { prefix: self.random_prefix(rng) },
            84..=88 => Op::ListDirectories { dir: self.random_dir(rng) },
            89..=94 => Op::Copy { from: key, to: rng.below(n) },
            _ => Op::Rename { from: key, to: rng.below(n) },
        }
    }

    /// Whether `op` asks something the store is documented not to answer
    /// (then another op is drawn).
    fn allowed(&self, op: &Op) -> bool {
        let k = |i: &usize| self.keys[*i].canonical.as_str();
        match op {
            Op::DeleteBatch { keys } => keys.iter().all(|i| self.addressable(k(i))),
            Op::Copy { from, to } | Op::Rename { from, to } => {
                self.addressable(k(from)) && self.addressable(k(to))
            }
            Op::Write { key, .. }
            | Op::WriteReader { key, .. }
            | Op::Read { key }
            | Op::ReadToAt { key, .. }
            | Op::ReadRange { key, .. }
            | Op::Stat { key }
            | Op::Head { key }
            | Op::Exists { key }
            | Op::Delete { key } => self.addressable(k(key)),
            Op::List { .. } | Op::ListObjects { .. } | Op::ListDirectories { .. } => true,
        }
    }

    /// The model's keys under a listing prefix (leading `/`s ignored).
    fn model_list(&self, prefix: &str) -> Vec<(String, u64)> {
        let prefix = prefix.trim_start_matches('/');
        self.model
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect()
    }

    /// The model's answer to list_directories: the immediate children of
    /// `dir` that hold objects, hidden names left out.
    fn model_dirs(&self, dir: &str) -> Vec<String> {
        let mut dir = dir.trim_start_matches('/').to_owned();
        if !dir.is_empty() && !dir.ends_with('/') {
            dir.push('/');
        }
        let names: BTreeSet<String> = self
            .model
            .keys()
            .filter_map(|k| k.strip_prefix(dir.as_str()))
            .filter_map(|rest| rest.split_once('/').map(|(name, _)| name))
            .filter(|name| !name.starts_with('.'))
            .map(str::to_owned)
            .collect();
        names.into_iter().collect()
    }

    /// Reads `key` whole and compares it with the model.
    fn check_content(&self, what: &str, key: &Key) {
        match self.model.get(&key.canonical) {
            Some(want) => {
                let got = self.ok(what, self.b.read(&key.given));
                if &got != want {
                    self.diverged(format!(
                        "{what}: {} holds {} bytes that differ from the model's {}",
                        short(&key.given),
                        got.len(),
                        want.len()
                    ));
                }
            }
            None => self.check_err(what, self.b.read(&key.given), ErrorKind::NotFound),
        }
    }

    /// A write of `data` to key `i` through `write`, as the model sees it.
    fn apply_write(&mut self, op: &str, i: usize, data: Vec<u8>, write: blobio::Result<()>) {
        let key = self.keys[i].canonical.clone();
        if self.can_hold(&key) {
            self.ok(op, write);
            self.model.insert(key, data);
        } else if write.is_ok() {
            self.diverged(format!(
                "{op}: succeeded, but the store declares that a key cannot be both an object \
                 and a directory (objects_and_directories_share_names)"
            ));
        }
    }

    fn apply(&mut self, op: &Op) {
        let shown = Shown(op, &self.keys).to_string();
        let s = shown.as_str();
        let b = self.b;
        match op {
            Op::Write { key, size, seed } => {
                let data = pseudo_random_bytes(*size, *seed);
                let result = b.write(&self.keys[*key].given, &data);
                self.apply_write(s, *key, data, result);
            }
            Op::WriteReader { key, size, seed, known, chunk } => {
                let data = pseudo_random_bytes(*size, *seed);
                let mut src = Chunked { data: &data, pos: 0, rng: SplitMix64(*seed), max: *chunk };
                let len = known.then_some(*size as u64);
                let result = b.write_reader(&self.keys[*key].given, &mut src, len);
                self.apply_write(s, *key, data, result);
            }
            Op::Read { key } => self.check_content(s, &self.keys[*key]),
            Op::ReadToAt { key, offset } => {
                let k = &self.keys[*key];
                let mut out = Vec::new();
                let got = b.read_to_at(&k.given, &mut out, *offset);
                match self.model.get(&k.canonical) {
                    None => self.check_err(s, got, ErrorKind::NotFound),
                    Some(v) if *offset > 0 && *offset >= v.len() as u64 => {
                        self.check_err(s, got, ErrorKind::InvalidArgument)
                    }
                    Some(v) => {
                        let n = self.ok(s, got);
                        let want = &v[*offset as usize..];
                        self.check(s, n, want.len() as u64);
                        if out != want {
                            self.diverged(format!("{s}: the bytes differ from the model's"));
                        }
                    }
                }
            }
            Op::ReadRange { key, offset, len } => {
                let k = &self.keys[*key];
                let mut buf = vec![0u8; *len];
                let got = b.read_range(&k.given, *offset, &mut buf);
                match self.model.get(&k.canonical) {
                    None => self.check_err(s, got, ErrorKind::NotFound),
                    Some(v) if *offset > 0 && *offset >= v.len() as u64 => {
                        self.check_err(s, got, ErrorKind::InvalidArgument)
                    }
                    Some(v) => {
                        let n = self.ok(s, got);
                        let start = *offset as usize;
                        let want = &v[start..v.len().min(start + len)];
                        self.check(s, n, want.len());
                        if &buf[..n] != want {
                            self.diverged(format!("{s}: the bytes differ from the model's"));
                        }
                    }
                }
            }
            Op::Stat { key } => {
                let k = &self.keys[*key];
                let want = self.model.get(&k.canonical).map(|v| v.len() as u64);
                let got = self.ok(s, b.stat_file(&k.given));
                self.check(s, got, want);
            }
            Op::Head { key } => {
                let k = &self.keys[*key];
                match self.model.get(&k.canonical) {
                    None => self.check_err(s, b.head(&k.given), ErrorKind::NotFound),
                    Some(v) => {
                        let meta = self.ok(s, b.head(&k.given));
                        self.check(s, meta.size, v.len() as u64);
                    }
                }
            }
            Op::Exists { key } => {
                let k = &self.keys[*key];
                let got = self.ok(s, b.exists(&k.given));
                self.check(s, got, self.model.contains_key(&k.canonical));
            }
            Op::Delete { key } => {
                let k = self.keys[*key].clone();
                self.ok(s, b.delete(&k.given));
                self.model.remove(&k.canonical);
            }
            Op::DeleteBatch { keys } => {
                let given: Vec<&str> = keys.iter().map(|i| self.keys[*i].given.as_str()).collect();
                let deleter = b.as_batch_deleter().expect("every store deletes in batches");
                self.ok(s, deleter.delete_batch(&given));
                for i in keys {
                    let canonical = self.keys[*i].canonical.clone();
                    self.model.remove(&canonical);
                }
            }
            Op::List { prefix } => {
                let got = self.ok(s, b.list(prefix));
                let want: Vec<String> = self.model_list(prefix).into_iter().map(|(k, _)| k).collect();
                self.check(s, got, want);
            }
            Op::ListObjects { prefix } => self.check_objects(s, prefix),
            Op::ListDirectories { dir } => {
                let lister = b.as_directory_lister().expect("every store lists directories");
                let got = self.ok(s, lister.list_directories(dir));
                self.check(s, got, self.model_dirs(dir));
            }
            Op::Copy { from, to } | Op::Rename { from, to } => {
                let rename = matches!(op, Op::Rename { .. });
                let (f, t) = (self.keys[*from].clone(), self.keys[*to].clone());
                let plain = PutOptions::default();
                let result = if rename {
                    b.rename(&f.given, &t.given, &plain).map(drop)
                } else {
                    b.copy(&f.given, &t.given, &plain).map(drop)
                };
                // Onto itself is an argument error, whether or not the
                // object exists (found before any request).
                match self.model.get(&f.canonical).cloned() {
                    _ if f.canonical == t.canonical => {
                        self.check_err(s, result, ErrorKind::InvalidArgument)
                    }
                    None => self.check_err(s, result, ErrorKind::NotFound),
                    Some(data) => {
                        // The destination is made while the source is
                        // still there (a local rename is atomic; S3 and
                        // Azure copy, then delete): renaming `e` to `e/x`
                        // needs `e` as a directory and an object at once.
                        if self.can_hold(&t.canonical) {
                            self.ok(s, result);
                            if rename {
                                self.model.remove(&f.canonical);
                            }
                            self.model.insert(t.canonical.clone(), data);
                        } else if result.is_ok() {
                            self.diverged(format!(
                                "{s}: succeeded, but the store declares that a key cannot be \
                                 both an object and a directory"
                            ));
                        }
                    }
                }
            }
        }
        if self.history.len() == 30 {
            self.history.pop_front();
        }
        self.history.push_back(format!("step {}: {shown}", self.step));
    }

    /// list_objects of `prefix` equals the model: paths and sizes.
    fn check_objects(&self, what: &str, prefix: &str) {
        let lister = self.b.as_object_lister().expect("every store lists objects");
        let got: Vec<(String, u64)> = self
            .ok(what, lister.list_objects(prefix))
            .into_iter()
            .map(|o| (o.path, o.size))
            .collect();
        self.check(what, got, self.model_list(prefix));
    }

    /// Everything: every key's content, and the run's listings.
    fn check_all(&self) {
        for key in &self.keys {
            if self.addressable(&key.canonical) {
                self.check_content("full check: read", key);
            }
        }
        let want: Vec<String> = self.model.keys().cloned().collect();
        self.check("full check: list", self.ok("list", self.b.list(&self.p)), want);
        let lister = self.b.as_directory_lister().expect("every store lists directories");
        let dirs = self.ok("list_directories", lister.list_directories(&self.p));
        self.check("full check: list_directories", dirs, self.model_dirs(&self.p));
    }
}

/// Runs `steps()` random steps of each seed against `b`, under a prefix of
/// its own, comparing with the model after every step.
fn run_model(name: &str, b: &dyn Backend, o: &Options, fixed_seed: u64) {
    let steps = steps();
    for seed in seeds(fixed_seed) {
        let p = format!("model/{}-{seed}/", support::unique("m"));
        let keys = key_space(&p, o);
        let mut run = Run {
            b,
            o,
            name,
            seed,
            steps,
            p,
            keys,
            model: BTreeMap::new(),
            old_dirs: BTreeSet::new(),
            step: 0,
            history: VecDeque::new(),
        };
        let mut rng = SplitMix64(seed);
        for step in 0..steps {
            run.step = step;
            let op = loop {
                let op = run.random_op(&mut rng);
                if run.allowed(&op) {
                    break op;
                }
            };
            run.apply(&op);
            if o.directories_outlive_their_keys {
                let dirs: Vec<String> = run
                    .model
                    .keys()
                    .flat_map(|k| k.match_indices('/').map(|(i, _)| k[..i].to_owned()))
                    .collect();
                run.old_dirs.extend(dirs);
            }
            // What a step that changes nothing in the model could have
            // changed shows in the next check after one that does.
            if op.changes() {
                let what = format!("after {}: list_objects", Shown(&op, &run.keys));
                run.check_objects(&what, &run.p);
            }
            if step % 250 == 249 {
                run.check_all();
            }
        }
        run.check_all();
        // Leave nothing behind.
        for key in run.model.keys() {
            b.delete(key).unwrap();
        }
        eprintln!("model: {name} seed {seed}: {steps} steps agree");
    }
}

#[test]
fn local() {
    let dir = common::TempDir::new("model");
    // Durability is not what is modelled; fsyncs would only slow the run.
    let store = LocalBackend::with_durable(dir.path(), false).unwrap();
    run_model("local", &store, &Options::local(), 0x10CA_1001);
}

#[cfg(feature = "server-tests")]
mod remote {
    use super::*;
    use blobio::AzureBlobBackend;
    use support::azure::Azurite;
    use support::S3Server;

    #[test]
    fn s3s_fs() {
        let store = S3Server::S3sFs.new_store("model");
        run_model("remote::s3s_fs", &store, &Options::s3s_fs(), 0x5335_1002);
    }

    #[test]
    fn moto() {
        let store = S3Server::Moto.new_store("model");
        run_model("remote::moto", &store, &Options::moto(), 0x0070_1003);
    }

    #[test]
    fn azurite() {
        let cfg = Azurite::Http.config(&Azurite::Http.new_container("model"));
        let store = AzureBlobBackend::new(cfg).unwrap();
        run_model("remote::azurite", &store, &Options::azurite(), 0x0A2E_1004);
    }
}
