//! Drives the real `blobio` binary: every command on a temp folder, and
//! (feature `server-tests`) on s3s-fs, moto and Azurite as scripts/test
//! starts them. BLOBIO_CLI_BIN names the binary under test (scripts/test
//! gives the static one); else cargo's build of it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

fn bin() -> PathBuf {
    std::env::var_os("BLOBIO_CLI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_blobio")))
}

/// A fresh folder, removed at drop.
struct Temp(PathBuf);

impl Temp {
    fn new() -> Temp {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "blobio-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs blobio with `args`, `stdin` fed, the environment plus `env`.
fn run_env(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("blobio runs");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        // Written from a thread: a large stdin must not block reading stdout.
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_env(args, stdin, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Succeeds, returns stdout.
#[track_caller]
fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let o = run(args, stdin);
    assert!(o.status.success(), "blobio {args:?}: {:?}\nstderr: {}", o.status, text(&o.stderr));
    text(&o.stdout)
}

/// Fails with exit status `code`, one line on stderr; returns it.
#[track_caller]
fn fails(code: i32, o: Output) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("blobio: ") && err.ends_with('\n') && err.lines().count() == 1, "one line: {err:?}");
    assert!(o.stdout.is_empty());
    err
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A tree of `n` files in `dir`: a/NNN, b/c/NNN, ... of various sizes.
fn make_tree(dir: &Path, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let rel = format!("{}/{i:03}.dat", ["a", "b/c", "b/d/e", "f"][i % 4]);
            let data = random_bytes(i * 7 % 3000, i as u64 + 1);
            let p = dir.join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &data).unwrap();
            (rel, data)
        })
        .collect()
}

#[test]
fn help_version_and_command_line_errors() {
    let help = ok(&["--help"], None);
    assert!(help.contains("usage: blobio") && help.contains("exit status") && help.contains("presign"));
    assert!(ok(&["--version"], None).starts_with("blobio 0."));
    let t = Temp::new();
    let dir = t.path("");
    // Unknown flags, commands, options, values: status 2, one line.
    assert!(fails(2, run(&["--frobnicate", "ls", &dir], None)).contains("--frobnicate"));
    assert!(fails(2, run(&["-z", "ls", &dir], None)).contains("-z"));
    assert!(fails(2, run(&["frob", &dir], None)).contains("frob"));
    assert!(fails(2, run(&[], None)).contains("no command"));
    assert!(fails(2, run(&["-o", "no_such_option=1", "ls", &dir], None)).contains("no_such_option"));
    assert!(fails(2, run(&["-o", "part_size=lots", "ls", &dir], None)).contains("part_size"));
    assert!(fails(2, run(&["-o", "nokeyvalue", "ls", &dir], None)).contains("KEY=VALUE"));
    assert!(fails(2, run(&["-o", "gcs:endpoint=x", "ls", &dir], None)).contains("gcs"));
    assert!(fails(2, run(&["cat"], None)).contains("usage: blobio cat"));
    assert!(fails(2, run(&["-l", "cat", &dir], None)).contains("--long"));
    assert!(fails(2, run(&["ls", "ftp://host/x"], None)).contains("ftp"));
    // A local option that does not apply to a local store.
    assert!(fails(2, run(&["-o", "local:region=x", "ls", &dir], None)).contains("region"));
    // presign: a local path has no URL to give; bad lifetimes and methods.
    std::fs::write(t.path("k"), b"x").unwrap();
    assert!(fails(7, run(&["presign", &t.path("k")], None)).contains("presign"));
    assert!(fails(2, run(&["presign", "--expires", "0", &t.path("k")], None)).contains("--expires"));
    assert!(fails(2, run(&["presign", "--expires=999999999", &t.path("k")], None)).contains("--expires"));
    assert!(fails(2, run(&["presign", "--method", "POST", &t.path("k")], None)).contains("POST"));
    assert!(fails(2, run(&["--expires", "5", "ls", &dir], None)).contains("--expires"));
}

#[test]
fn every_command_on_local_folders() {
    let t = Temp::new();
    let (src, dst) = (t.path("src"), t.path("dst"));
    std::fs::create_dir_all(&src).unwrap();
    make_tree(Path::new(&src), 8);

    // put - (stdin), cat, stat
    ok(&["put", "-", &t.path("src/top.txt")], Some(b"hello\n"));
    assert_eq!(ok(&["cat", &t.path("src/top.txt")], None), "hello\n");
    let st = ok(&["stat", &t.path("src/top.txt")], None);
    assert!(st.contains("size:          6\n") && st.contains("store:         local\n"), "{st}");
    assert!(st.contains("version:") && st.contains("last modified: 20"), "{st}");
    let js = ok(&["stat", "--json", &t.path("src/top.txt")], None);
    let head = format!("{{\"url\":\"{}\",\"key\":\"top.txt\",\"size\":6,\"version\":\"", t.path("src/top.txt"));
    assert!(js.starts_with(&head) && js.ends_with(",\"store\":\"local\"}\n"), "{js}");
    assert!(js.contains("\"last_modified\":\"20") && js.contains("\"metadata\":{}"), "{js}");

    // ls: one level (folders once, with /), -r, -l, --json
    let one = ok(&["ls", &src], None);
    assert_eq!(one, format!("{src}/a/\n{src}/b/\n{src}/f/\n{src}/top.txt\n"));
    let all = ok(&["ls", "-r", &src], None);
    assert_eq!(all.lines().count(), 9);
    assert!(all.contains(&format!("{src}/b/d/e/002.dat\n")));
    let long = ok(&["ls", "-lr", &format!("{src}/b/")], None);
    let line = long.lines().find(|l| l.ends_with("/b/c/001.dat")).unwrap();
    assert!(line.trim_start().starts_with("7  20"), "size then an RFC 3339 time: {line}");
    let json = ok(&["--json", "ls", "-r", &src], None);
    assert_eq!(json.lines().count(), 9);
    assert!(json.lines().all(|l| l.starts_with("{\"url\":") && l.contains("\"last_modified\":\"20")));
    assert!(ok(&["--json", "ls", &src], None).contains("\"key\":\"a/\",\"dir\":true"));
    // a string prefix, as S3 has them
    assert_eq!(ok(&["ls", &t.path("src/to")], None), format!("{src}/top.txt\n"));

    // cp one file: to a name, into a folder (trailing / or existing folder)
    ok(&["cp", &t.path("src/top.txt"), &t.path("one.txt")], None);
    ok(&["cp", &t.path("src/top.txt"), &format!("{}/", t.path("into"))], None);
    assert_eq!(std::fs::read(t.path("one.txt")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(t.path("into/top.txt")).unwrap(), b"hello\n");
    // cp -r: SRC/x lands at DST/x
    ok(&["cp", "-r", "-j", "3", &src, &dst], None);
    assert_eq!(ok(&["ls", "-r", &dst], None).replace(&dst, &src), all);
    assert_eq!(std::fs::read(t.path("dst/b/d/e/002.dat")).unwrap(), std::fs::read(t.path("src/b/d/e/002.dat")).unwrap());
    // cp to and from -
    assert_eq!(ok(&["cp", &t.path("one.txt"), "-"], None), "hello\n");
    ok(&["cp", "-", &t.path("dash.txt")], Some(b"via cp -"));
    assert_eq!(std::fs::read(t.path("dash.txt")).unwrap(), b"via cp -");

    // mv: one, then a tree
    ok(&["mv", &t.path("one.txt"), &t.path("two.txt")], None);
    assert!(!Path::new(&t.path("one.txt")).exists() && Path::new(&t.path("two.txt")).exists());
    ok(&["mv", "-r", &t.path("dst/b"), &t.path("moved")], None);
    assert_eq!(ok(&["ls", "-r", &t.path("moved")], None).lines().count(), 4);
    assert_eq!(ok(&["ls", "-r", &t.path("dst/b")], None), "");

    // rm: several at once, -r
    ok(&["rm", &t.path("two.txt"), &t.path("dash.txt"), &t.path("never-was.txt")], None);
    assert!(!Path::new(&t.path("two.txt")).exists() && !Path::new(&t.path("dash.txt")).exists());
    ok(&["rm", "-r", &dst], None);
    assert_eq!(ok(&["ls", "-r", &dst], None), "");
    assert!(fails(2, run(&["rm", &format!("{src}/")], None)).contains("rm -r"));

    // Missing objects: 4, naming the URL.
    let missing = t.path("src/missing.txt");
    assert!(fails(4, run(&["cat", &missing], None)).contains(&format!("{missing}: not found")));
    assert!(fails(4, run(&["stat", &missing], None)).contains(&missing));
    assert!(fails(4, run(&["cp", &missing, &t.path("x")], None)).contains(&missing));
    assert!(fails(4, run(&["cp", "-r", &t.path("nothing/"), &t.path("x")], None)).contains("nothing"));
    // A key no store takes: 3.
    assert!(fails(3, run(&["cat", &t.path("src/a.part")], None)).contains("a.part"));
    // A folder where an object is wanted.
    assert!(fails(2, run(&["cat", &src], None)).contains("folder"));
    assert!(fails(2, run(&["cp", &src, &dst], None)).contains("-r"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let t = Temp::new();
    std::fs::write(t.path("big"), random_bytes(4 << 20, 9)).unwrap();
    let mut child = Command::new(bin())
        .args(["cat", &t.path("big")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head -c 0`
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141));
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

/// Runs `args` under a pseudo-terminal (util-linux `script`): stdout and
/// stderr both go to it; returns what it showed and the exit status.
fn under_pty(args: &[&str], env: &[(&str, &str)]) -> (String, i32) {
    let quoted: Vec<String> = std::iter::once(bin().to_string_lossy().into_owned())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("script (util-linux) runs");
    (text(&o.stdout), o.status.code().unwrap_or(-1))
}

/// The bar's last state: what follows the last carriage return before the end.
fn last_line(shown: &str) -> String {
    shown.trim_end_matches(['\r', '\n']).rsplit('\r').next().unwrap_or("").replace("\x1b[K", "")
}

#[test]
fn progress_bar_only_on_a_terminal() {
    let t = Temp::new();
    std::fs::write(t.path("f.bin"), random_bytes(3 << 20, 5)).unwrap();
    std::fs::create_dir_all(t.path("tree")).unwrap();
    make_tree(&t.0.join("tree"), 20);

    // One file: its name, a bar, bytes, rate and ETA; 100% at the end.
    let (shown, code) = under_pty(&["cp", &t.path("f.bin"), &t.path("g.bin")], &[]);
    assert_eq!(code, 0, "{shown}");
    let last = last_line(&shown);
    assert!(last.contains("f.bin") && last.contains("[####################] 100% 3.0 MiB / 3.0 MiB"), "{shown:?}");
    assert!(last.contains("/s") && last.contains("ETA 0:00"), "{shown:?}");
    // -r: one total line, files counted.
    let (shown, code) = under_pty(&["cp", "-r", &t.path("tree"), &t.path("tree2")], &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(last_line(&shown).starts_with("20/20 files  ["), "{shown:?}");
    // stdin of unknown size: bytes and rate, no percentage.
    let (shown, code) = under_pty(&["put", "-", &t.path("p.bin")], &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("p.bin  0 B  0 B/s") && !shown.contains('%'), "{shown:?}");
    // -q: nothing.
    let (shown, code) = under_pty(&["-q", "cp", &t.path("f.bin"), &t.path("h.bin")], &[]);
    assert_eq!((shown.as_str(), code), ("", 0));
    // Not a terminal: nothing on stderr.
    let o = run(&["cp", &t.path("f.bin"), &t.path("i.bin")], None);
    assert!(o.status.success() && o.stderr.is_empty() && o.stdout.is_empty());
    let o = run(&["cp", "-r", &t.path("tree"), &t.path("tree3")], None);
    assert!(o.status.success() && o.stderr.is_empty());
    // cat under a terminal: the bytes on stdout, the bar after them.
    let (shown, _) = under_pty(&["cat", &t.path("tree/a/000.dat")], &[]);
    assert!(!shown.contains("ETA") || shown.contains("000.dat"), "{shown:?}");
}

#[cfg(feature = "server-tests")]
mod servers {
    use super::*;

    fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test"))
    }

    fn python(script: &str, args: &[&str]) -> String {
        let o = Command::new(var("BLOBIO_TEST_PYTHON")).arg("-c").arg(script).args(args).output().unwrap();
        assert!(o.status.success(), "python: {}", text(&o.stderr));
        text(&o.stdout)
    }

    fn unique(what: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        format!("cli-{what}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
    }

    /// A fresh s3s-fs bucket (a folder of its data dir) and the options to reach it.
    fn s3s_bucket() -> (String, Vec<String>) {
        let b = unique("s3s");
        std::fs::create_dir_all(Path::new(&var("BLOBIO_TEST_S3S_DATA_DIR")).join(&b)).unwrap();
        (b, vec!["-o".into(), format!("endpoint={}", var("BLOBIO_TEST_S3S_ENDPOINT"))])
    }

    /// Credentials as a user gives them: the environment.
    fn s3s_env() -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", var("BLOBIO_TEST_S3S_ACCESS_KEY")),
            ("AWS_SECRET_ACCESS_KEY", var("BLOBIO_TEST_S3S_SECRET_KEY")),
        ]
    }

    fn azure_container() -> (String, Vec<String>) {
        let c = unique("az");
        python(
            // A create the SDK retried after a slow answer finds it made: fine.
            "import sys\nfrom azure.core.exceptions import ResourceExistsError\n\
             from azure.storage.blob import BlobServiceClient as S\n\
             try:\n    S(sys.argv[1], credential={'account_name': sys.argv[2], 'account_key': sys.argv[3]}).create_container(sys.argv[4])\n\
             except ResourceExistsError:\n    pass",
            &[&var("BLOBIO_TEST_AZURITE_ENDPOINT"), &var("BLOBIO_TEST_AZURITE_ACCOUNT"), &var("BLOBIO_TEST_AZURITE_KEY"), &c],
        );
        let opts = vec![
            "-o".into(),
            format!("azure:endpoint={}", var("BLOBIO_TEST_AZURITE_ENDPOINT")),
            "-o".into(),
            format!("azure:account_name={}", var("BLOBIO_TEST_AZURITE_ACCOUNT")),
            "-o".into(),
            format!("azure:account_key={}", var("BLOBIO_TEST_AZURITE_KEY")),
        ];
        (c, opts)
    }

    /// Runs with `opts` first and the s3s-fs credentials in the environment.
    fn s(opts: &[String], args: &[&str], stdin: Option<&[u8]>) -> Output {
        let all: Vec<&str> = opts.iter().map(String::as_str).chain(args.iter().copied()).collect();
        let env = s3s_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_env(&all, stdin, &env)
    }

    #[track_caller]
    fn s_ok(opts: &[String], args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let o = s(opts, args, stdin);
        assert!(o.status.success(), "blobio {args:?}: {:?}\nstderr: {}", o.status, text(&o.stderr));
        o.stdout
    }

    #[test]
    fn every_command_on_s3_and_azure_with_a_tree_of_500() {
        let t = Temp::new();
        let tree = make_tree(&t.0.join("tree"), 500);
        let (b, s3o) = s3s_bucket();
        let (c, azo) = azure_container();
        let opts: Vec<String> = s3o.iter().chain(azo.iter()).cloned().collect();
        let s3 = format!("s3://{b}");
        let az = format!("az://{c}");

        // local -> S3, in parallel; ls -r sees all 500
        s_ok(&opts, &["cp", "-r", &t.path("tree"), &format!("{s3}/up/")], None);
        let listed = text(&s_ok(&opts, &["ls", "-r", &format!("{s3}/up/")], None));
        assert_eq!(listed.lines().count(), 500);
        assert!(listed.contains(&format!("{s3}/up/b/d/e/002.dat\n")));
        let one_level = text(&s_ok(&opts, &["ls", &format!("{s3}/up/")], None));
        assert_eq!(one_level, format!("{s3}/up/a/\n{s3}/up/b/\n{s3}/up/f/\n"));
        let json = text(&s_ok(&opts, &["ls", "-r", "--json", &format!("{s3}/up/a/")], None));
        assert!(json.contains(&format!("\"key\":\"up/a/004.dat\",\"size\":{}", tree[4].1.len())), "{json}");

        // S3 -> Azure (remote to remote), Azure -> local; every byte the same
        s_ok(&opts, &["cp", "-r", "-j", "16", &format!("{s3}/up"), &format!("{az}/copy")], None);
        assert_eq!(text(&s_ok(&opts, &["ls", "-r", &format!("{az}/copy/")], None)).lines().count(), 500);
        s_ok(&opts, &["cp", "-r", &format!("{az}/copy/"), &t.path("back")], None);
        for (rel, data) in &tree {
            assert_eq!(&std::fs::read(t.path(&format!("back/{rel}"))).unwrap(), data, "{rel}");
        }

        // cat, stat, cp, mv of one object on each
        for root in [&s3, &az] {
            let k = format!("{root}/up/f/003.dat");
            if root == &az {
                s_ok(&opts, &["cp", &format!("{s3}/moved/003.dat"), &k], None); // moved there by the S3 round
            }
            assert_eq!(s_ok(&opts, &["cat", &k], None), tree[3].1);
            let st = text(&s_ok(&opts, &["stat", "--json", &k], None));
            assert!(st.contains(&format!("\"size\":{}", tree[3].1.len())), "{st}");
            s_ok(&opts, &["mv", &k, &format!("{root}/moved/")], None);
            assert_eq!(s(&opts, &["stat", &k], None).status.code(), Some(4));
            assert_eq!(s_ok(&opts, &["cat", &format!("{root}/moved/003.dat")], None), tree[3].1);
            // a missing object: 4, naming the URL and the server's answer
            let err = fails(4, s(&opts, &["cat", &format!("{root}/no/such")], None));
            assert!(err.contains(&format!("{root}/no/such: not found (HTTP 404")), "{err}");
        }

        // rm: a few named, then -r in batches; nothing left
        s_ok(&opts, &["rm", &format!("{s3}/up/a/000.dat"), &format!("{s3}/up/a/004.dat"), &format!("{az}/moved/003.dat")], None);
        assert_eq!(s(&opts, &["stat", &format!("{s3}/up/a/000.dat")], None).status.code(), Some(4));
        s_ok(&opts, &["rm", "-r", &format!("{s3}/up"), &format!("{s3}/moved/"), &format!("{az}/copy")], None);
        assert_eq!(s_ok(&opts, &["ls", "-r", &s3], None), b"");
        assert_eq!(s_ok(&opts, &["ls", "-r", &az], None), b"");
    }

    /// curl's status and body for `url` (with `args`).
    fn curl(args: &[&str], url: &str) -> (u16, Vec<u8>) {
        let o = Command::new("curl").args(["-sS", "-o", "-", "-w", "\n%{http_code}"]).args(args).arg(url).output().unwrap();
        assert!(o.status.success(), "curl: {}", text(&o.stderr));
        let mut body = o.stdout;
        let at = body.iter().rposition(|&b| b == b'\n').unwrap();
        let code = text(&body[at + 1..]).trim().parse().unwrap();
        body.truncate(at);
        (code, body)
    }

    /// presign gives URLs that curl uses with no credentials, which expire;
    /// cp within one store is the store's own copy.
    #[test]
    fn presigned_urls_and_copies_within_a_store() {
        let t = Temp::new();
        let (b, s3o) = s3s_bucket();
        let (c, azo) = azure_container();
        let opts: Vec<String> = s3o.iter().chain(azo.iter()).cloned().collect();
        let data = random_bytes(200_000, 5);
        std::fs::write(t.path("up.bin"), &data).unwrap();
        for root in [format!("s3://{b}"), format!("az://{c}")] {
            let k = format!("{root}/p/obj.bin");
            s_ok(&opts, &["put", "-", &k], Some(&data));
            let url = text(&s_ok(&opts, &["presign", &k], None)).trim().to_owned();
            assert!(url.starts_with("http"), "{url}");
            assert_eq!(curl(&[], &url), (200, data.clone()), "{root}: GET through the URL");
            let put = text(&s_ok(&opts, &["presign", "--method", "put", "--expires", "600", &format!("{root}/p/by-curl.bin")], None));
            let (code, _) = curl(&["-X", "PUT", "-H", "x-ms-blob-type: BlockBlob", "-T", &t.path("up.bin")], put.trim());
            assert!((200..300).contains(&code), "{root}: PUT through the URL: {code}");
            assert_eq!(s_ok(&opts, &["cat", &format!("{root}/p/by-curl.bin")], None), data);
            let short = text(&s_ok(&opts, &["presign", "--expires=1", &k], None));
            std::thread::sleep(std::time::Duration::from_millis(2500));
            let (code, _) = curl(&[], short.trim());
            assert!((400..500).contains(&code), "{root}: an expired URL answered {code}");

            // Within the store: copied there, byte-exact, the source kept.
            s_ok(&opts, &["cp", &k, &format!("{root}/q/")], None);
            assert_eq!(s_ok(&opts, &["cat", &format!("{root}/q/obj.bin")], None), data);
            assert_eq!(s_ok(&opts, &["cat", &k], None), data);
            let st = text(&s_ok(&opts, &["stat", &format!("{root}/q/obj.bin")], None));
            assert!(st.contains("version:") && st.contains("content type:"), "{st}");
            s_ok(&opts, &["rm", "-r", &format!("{root}/p/"), &format!("{root}/q/")], None);
        }
    }

    #[test]
    fn a_pipe_of_unknown_size_goes_up_in_parts() {
        // 12 MiB through stdin with 5 MiB parts: three parts. moto tells the
        // parts by the ETag ("<md5>-3"); s3s-fs checks every signature.
        let data = random_bytes(12 << 20, 77);
        let moto = var("BLOBIO_TEST_MOTO_ENDPOINT");
        let bucket = unique("moto");
        python(
            "import sys, urllib.request\nurllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/' + sys.argv[2], method='PUT'))",
            &[&moto, &bucket],
        );
        let opts = vec!["-o".to_string(), format!("endpoint={moto}"), "-o".into(), "part_size=5MiB".into()];
        let url = format!("s3://{bucket}/piped.bin");
        s_ok(&opts, &["put", "-", &url], Some(&data));
        let etag = python(
            "import sys, boto3\nc = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1')\n\
             print(c.head_object(Bucket=sys.argv[2], Key='piped.bin')['ETag'])",
            &[&moto, &bucket],
        );
        assert!(etag.trim().ends_with("-3\""), "a multipart ETag: {etag}");
        assert_eq!(s_ok(&opts, &["cat", &url], None), data);

        let (b, mut s3o) = s3s_bucket();
        s3o.extend(["-o".to_string(), "part_size=5MiB".to_string()]);
        let url = format!("s3://{b}/piped.bin");
        s_ok(&s3o, &["put", "-", &url], Some(&data));
        assert_eq!(text(&s_ok(&s3o, &["stat", &url], None)).lines().nth(1), Some("size:          12582912"));
        assert_eq!(s_ok(&s3o, &["cat", &url], None), data);
        let (c, azo) = azure_container();
        let mut azo = azo;
        azo.extend(["-o".to_string(), "azure:part_size=1MiB".to_string()]);
        let url = format!("az://{c}/piped.bin");
        s_ok(&azo, &["put", "-", &url], Some(&data));
        assert_eq!(s_ok(&azo, &["cat", &url], None), data);
    }

    #[test]
    fn refused_credentials_say_so() {
        let (b, opts) = s3s_bucket();
        let url = format!("s3://{b}/k");
        let secret = "definitely-wrong-secret";
        let o = run_env(
            &[&opts[0], &opts[1], "put", "-", &url],
            Some(b"x"),
            &[("AWS_ACCESS_KEY_ID", &var("BLOBIO_TEST_S3S_ACCESS_KEY")), ("AWS_SECRET_ACCESS_KEY", secret)],
        );
        let err = fails(6, o);
        assert!(err.contains(&format!("{url}: permission denied (HTTP 403 SignatureDoesNotMatch")), "{err}");
        assert!(!err.contains(secret));
        let (c, mut azo) = azure_container();
        azo[5] = "azure:account_key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==".into();
        let root = format!("az://{c}/");
        let args: Vec<&str> = azo.iter().map(String::as_str).chain(["ls", root.as_str()]).collect();
        let err = fails(6, run(&args, None));
        assert!(err.contains(&format!("az://{c}/: permission denied (HTTP 403")), "{err}");
    }

    #[test]
    fn progress_bar_of_a_remote_upload_on_a_terminal() {
        let t = Temp::new();
        std::fs::write(t.path("f.bin"), random_bytes(6 << 20, 3)).unwrap();
        let (b, opts) = s3s_bucket();
        let env = s3s_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = format!("s3://{b}/f.bin");
        let (shown, code) = under_pty(&[&opts[0], &opts[1], "cp", &t.path("f.bin"), &url], &env);
        assert_eq!(code, 0, "{shown}");
        assert!(last_line(&shown).contains("100% 6.0 MiB / 6.0 MiB"), "{shown:?}");
        let o = s(&opts, &["cp", &url, &t.path("g.bin")], None);
        assert!(o.status.success() && o.stderr.is_empty());
    }
}
