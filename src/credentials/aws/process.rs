//! `credential_process`: a profile names a command whose standard output
//! is the credentials, as JSON:
//!
//! ```json
//! {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
//!  "SessionToken": "...", "Expiration": "2024-01-01T00:00:00Z"}
//! ```
//!
//! The command line is split into words (blanks separate them; `"..."`
//! and `'...'` group, a backslash escapes the next character outside
//! single quotes) and run directly, never through a shell, with no
//! standard input. `Expiration` (RFC 3339) makes the credentials temporary
//! (refreshed by running the command again); without it they never
//! expire. A command that runs longer than [`PROCESS_TIMEOUT`] is killed.
//! Errors name the profile and the program (never its arguments, which may
//! hold secrets) with the exit status and the first line of its standard
//! error.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::credentials::http::truncate;
use crate::credentials::{AwsCredentials, Provider};
use crate::error::{Error, Result};

/// Longest a credential process may run (one that asks for an MFA code
/// needs time).
pub(crate) const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a command for credentials.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) words: Vec<String>,
    pub(crate) profile: String,
    pub(crate) timeout: Duration,
}

/// Splits a command line into words without a shell.
pub(crate) fn split(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("an unclosed ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("a trailing backslash".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("an unclosed \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("an empty command".into());
    }
    Ok(words)
}

impl Process {
    fn what(&self) -> String {
        format!(
            "AWS credentials: credential_process {} of profile {}",
            self.words.first().map(String::as_str).unwrap_or(""),
            self.profile
        )
    }
}

impl Provider for Process {
    fn fetch(&self) -> Result<AwsCredentials> {
        let what = self.what();
        let fail = |message: String| Error::Other { path: what.clone(), message, remote: None, source: None };
        let mut child = Command::new(&self.words[0])
            .args(&self.words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Io { path: what.clone(), operation: "start", source: e })?;
        // Both pipes are drained while the command runs, so it never blocks
        // on a full pipe.
        let reader = drain(Box::new(child.stdout.take().expect("piped")), 1024 * 1024);
        let err_reader = drain(Box::new(child.stderr.take().expect("piped")), 64 * 1024);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < self.timeout => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Timeout {
                        path: what,
                        message: format!("still running after {:?}; killed", self.timeout),
                        remote: None,
                        source: None,
                    });
                }
                Err(e) => return Err(Error::Io { path: what, operation: "wait", source: e }),
            }
        };
        let stdout = reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            let said = if first.is_empty() { String::new() } else { format!(": {}", truncate(first, 200)) };
            return Err(fail(format!("failed ({status}){said}")));
        }
        parse(&stdout).map_err(|why| fail(format!("printed no usable credentials: {why}")))
    }
}

/// Reads `pipe` to its end (at most `limit` bytes kept) on a thread of
/// its own.
fn drain(pipe: Box<dyn Read + Send>, limit: u64) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut pipe = pipe;
        let _ = pipe.by_ref().take(limit).read_to_end(&mut buf);
        // Whatever is past the limit is read and dropped, so the process
        // never blocks on a full pipe.
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
        buf
    })
}

/// The credentials a process printed.
pub(crate) fn parse(stdout: &[u8]) -> std::result::Result<AwsCredentials, String> {
    let json: serde_json::Value =
        serde_json::from_slice(stdout).map_err(|e| format!("not JSON ({e})"))?;
    match json.get("Version").and_then(|v| v.as_u64()) {
        Some(1) => {}
        Some(v) => return Err(format!("Version {v}, not 1")),
        None => return Err("no Version (it must be 1)".into()),
    }
    super::ecs::from_fields(&json, "SessionToken")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_a_shell_would_without_one() {
        assert_eq!(split("/bin/get-creds --profile x").unwrap(), ["/bin/get-creds", "--profile", "x"]);
        assert_eq!(split(r#"  "/opt/my tools/creds"  'a b' c\ d "q\"x" "" "#).unwrap(),
            ["/opt/my tools/creds", "a b", "c d", "q\"x", ""]);
        assert_eq!(split("aws configure export-credentials --format process").unwrap().len(), 5);
        assert!(split("  ").is_err());
        assert!(split("cmd 'open").is_err());
        assert!(split("cmd \"open").is_err());
        assert_eq!(split("echo $HOME;rm").unwrap(), ["echo", "$HOME;rm"], "no shell expansion");
    }

    #[test]
    fn output_must_be_version_1_json_with_keys() {
        let c = parse(br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"T","Expiration":"2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!((c.key_id.as_str(), c.token.as_deref()), ("AK", Some("T")));
        assert!(c.expires.is_some());
        let c = parse(br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#).unwrap();
        assert_eq!(c.expires, None);
        for bad in [&br#"{"AccessKeyId":"AK","SecretAccessKey":"SK"}"#[..], br#"{"Version":2}"#, b"nope",
            br#"{"Version":1,"AccessKeyId":"AK"}"#, br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","Expiration":"soon"}"#] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("SK"), "{e}");
        }
    }
}
