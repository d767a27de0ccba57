//! The shared config and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`) and what a profile in them says.
//!
//! Files: `AWS_CONFIG_FILE` (default `~/.aws/config`, sections
//! `[default]` and `[profile NAME]`) and `AWS_SHARED_CREDENTIALS_FILE`
//! (default `~/.aws/credentials`, sections `[NAME]`); `~` is `HOME` (or
//! `USERPROFILE`). A missing file is an empty one. For one profile, a
//! setting of the credentials file wins over the same one of the config
//! file. Lines starting with `#` or `;` are comments, as is the rest of a
//! line after a blank followed by `#` or `;`; indented lines (sub-settings
//! such as `s3 =` blocks) are skipped; setting names are case-insensitive,
//! profile names are not.
//!
//! What a profile gives, in this order:
//! 1. `role_arn`: STS `AssumeRole` (`external_id`, `role_session_name`,
//!    `duration_seconds`), with `web_identity_token_file` (then
//!    `AssumeRoleWithWebIdentity` instead), or source credentials from
//!    `source_profile` (followed recursively; a profile naming itself uses
//!    its own static keys) or `credential_source` (`Environment`,
//!    `Ec2InstanceMetadata`, `EcsContainer`). Profiles that loop are an
//!    error naming them (`a -> b -> a`).
//! 2. `credential_process` (see `process.rs`).
//! 3. `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
//!
//! SSO profiles (`sso_session`, `sso_start_url`) and `mfa_serial` are
//! refused with a message saying what to use instead: they need a browser
//! or a person.

use std::path::PathBuf;

use super::ecs::Ecs;
use super::imds::Imds;
use super::process::Process;
use super::sts::{Role, Sts};
use super::web_identity::WebIdentity;
use super::Env;
use crate::credentials::{AwsCredentials, Provider};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

/// A profile's settings, names lower-cased. A short list searched in
/// order (no map: a profile has a handful of settings, and the static
/// library stays smaller without another map type).
#[derive(Debug, Clone, Default)]
pub(crate) struct Props(Vec<(String, String)>);

impl Props {
    pub(crate) fn get(&self, name: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn set(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

/// The profiles of one file, by name.
#[derive(Debug, Default)]
struct Sections(Vec<(String, Props)>);

impl Sections {
    fn get(&self, name: &str) -> Option<&Props> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, p)| p)
    }

    fn entry(&mut self, name: &str) -> &mut Props {
        let at = match self.0.iter().position(|(k, _)| k == name) {
            Some(at) => at,
            None => {
                self.0.push((name.to_owned(), Props::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

/// Both files, parsed.
#[derive(Debug, Default)]
pub(crate) struct Files {
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) credentials_path: Option<PathBuf>,
    config: Sections,
    credentials: Sections,
}

fn home(env: &Env<'_>) -> Option<PathBuf> {
    env("HOME").or_else(|| env("USERPROFILE")).map(PathBuf::from)
}

fn expand(path: &str, env: &Env<'_>) -> Option<PathBuf> {
    match path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\")) {
        Some(rest) => home(env).map(|h| h.join(rest)),
        None if path == "~" => home(env),
        None => Some(PathBuf::from(path)),
    }
}

fn read(path: &Option<PathBuf>) -> String {
    let Some(path) = path else { return String::new() };
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            log::warn!("AWS shared file {} cannot be read, ignored: {e}", path.display());
            String::new()
        }
    }
}

impl Files {
    /// Reads both files (where the environment says they are).
    pub(crate) fn load(env: &Env<'_>) -> Files {
        let config_path = match env("AWS_CONFIG_FILE") {
            Some(p) => expand(&p, env),
            None => home(env).map(|h| h.join(".aws").join("config")),
        };
        let credentials_path = match env("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => expand(&p, env),
            None => home(env).map(|h| h.join(".aws").join("credentials")),
        };
        let config = parse(&read(&config_path), true);
        let credentials = parse(&read(&credentials_path), false);
        Files { config_path, credentials_path, config, credentials }
    }

    /// Files parsed from text (tests).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn from_text(config: &str, credentials: &str) -> Files {
        Files {
            config_path: Some("config".into()),
            credentials_path: Some("credentials".into()),
            config: parse(config, true),
            credentials: parse(credentials, false),
        }
    }

    /// Profile `name`'s settings, when either file has it.
    pub(crate) fn profile(&self, name: &str) -> Option<Props> {
        let (a, b) = (self.config.get(name), self.credentials.get(name));
        if a.is_none() && b.is_none() {
            return None;
        }
        let mut props = a.cloned().unwrap_or_default();
        for (k, v) in b.map(|b| b.0.as_slice()).unwrap_or_default() {
            props.set(k.clone(), v.clone());
        }
        Some(props)
    }

    /// "`<credentials file>` or `<config file>`", for messages.
    pub(crate) fn where_(&self) -> String {
        let shown = |p: &Option<PathBuf>| p.as_deref().map_or("(no home directory)".to_owned(), |p| p.display().to_string());
        format!("{} or {}", shown(&self.credentials_path), shown(&self.config_path))
    }
}

/// The sections of one file: profile name to settings.
fn parse(text: &str, config_file: bool) -> Sections {
    let mut out = Sections::default();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            // A sub-setting or a continuation: nothing a credential needs.
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[') {
            let Some(end) = inner.find(']') else {
                current = None;
                continue;
            };
            let name = inner[..end].trim();
            current = if config_file {
                match name.strip_prefix("profile") {
                    Some(rest) if rest.starts_with([' ', '\t']) => Some(rest.trim().to_owned()),
                    _ if name == "default" => Some(name.to_owned()),
                    // `[sso-session x]`, `[services x]`, or a bare name
                    // the config file does not allow.
                    _ => None,
                }
            } else {
                Some(name.to_owned())
            };
            if let Some(n) = &current {
                out.entry(n);
            }
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let value = strip_comment(value.trim());
        out.entry(section).set(key, value.to_owned());
    }
    out
}

/// A value without an inline comment (` #...` or ` ;...`).
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if matches!(bytes[i], b'#' | b';') && matches!(bytes[i - 1], b' ' | b'\t') {
            return value[..i].trim_end();
        }
    }
    value
}

/// What the providers a profile makes need.
pub(crate) struct Ctx<'a> {
    pub(crate) env: &'a Env<'a>,
    pub(crate) http: &'a HttpConfig,
    pub(crate) retry: &'a RetryPolicy,
    /// The STS endpoint and signing region.
    pub(crate) sts: (String, String),
    pub(crate) imds_endpoint: Option<&'a str>,
}

/// Credentials from a profile: known now, or fetched when needed.
pub(crate) enum Source {
    Static(AwsCredentials),
    Dynamic(Box<dyn Provider>),
}

impl Source {
    fn fetch(&self) -> Result<AwsCredentials> {
        match self {
            Source::Static(c) => Ok(c.clone()),
            Source::Dynamic(p) => p.fetch(),
        }
    }
}

/// Assumes a role with credentials from another source.
struct AssumeRole {
    base: Source,
    role: Role,
    sts: Sts,
}

impl Provider for AssumeRole {
    fn fetch(&self) -> Result<AwsCredentials> {
        let base = self.base.fetch()?;
        self.sts.assume_role(&base, &self.role)
    }
}

fn bad(profile: &str, files: &Files, why: impl std::fmt::Display) -> Error {
    Error::invalid_argument(format!("AWS profile {profile:?} (in {}): {why}", files.where_()))
}

fn static_keys(name: &str, files: &Files, p: &Props) -> Result<Option<AwsCredentials>> {
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(k), Some(s)) => Ok(Some(AwsCredentials::new(k, s, get("aws_session_token")))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(bad(name, files, "aws_access_key_id without aws_secret_access_key")),
        (None, Some(_)) => Err(bad(name, files, "aws_secret_access_key without aws_access_key_id")),
    }
}

/// The credentials profile `name` gives; `None` when it gives none (a
/// profile with only a region, say). Errors for a profile that is
/// inconsistent, loops, or asks for what blobio cannot do.
pub(crate) fn source(files: &Files, name: &str, ctx: &Ctx<'_>) -> Result<Option<Source>> {
    resolve(files, name, ctx, &mut Vec::new())
}

fn resolve(files: &Files, name: &str, ctx: &Ctx<'_>, chain: &mut Vec<String>) -> Result<Option<Source>> {
    let Some(p) = files.profile(name) else {
        return Err(match chain.last() {
            Some(from) => bad(from, files, format_args!("source_profile {name:?} does not exist")),
            None => bad(name, files, "no such profile"),
        });
    };
    chain.push(name.to_owned());
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
    if let Some(arn) = get("role_arn") {
        if get("mfa_serial").is_some() {
            return Err(bad(name, files, "mfa_serial needs an MFA code typed by a person; \
                use credential_process with a tool that prompts for it"));
        }
        let duration_seconds = match get("duration_seconds") {
            Some(d) => Some(d.parse::<u32>().ok().filter(|d| (900..=43_200).contains(d)).ok_or_else(|| {
                bad(name, files, format_args!("duration_seconds {d:?} is not 900 to 43200"))
            })?),
            None => None,
        };
        let role = Role {
            arn,
            session_name: get("role_session_name"),
            external_id: get("external_id"),
            duration_seconds,
        };
        let sts = || Sts::new(&ctx.sts.0, &ctx.sts.1, ctx.http, ctx.retry);
        if let Some(file) = get("web_identity_token_file") {
            let token_file = super::expand_path(&file, ctx.env);
            return Ok(Some(Source::Dynamic(Box::new(WebIdentity { token_file, role, sts: sts()? }))));
        }
        let base = match (get("source_profile"), get("credential_source")) {
            (Some(_), Some(_)) => {
                return Err(bad(name, files, "both source_profile and credential_source are set"))
            }
            (Some(src), None) if src == name => match static_keys(name, files, &p)? {
                Some(c) => Source::Static(c),
                None => return Err(bad(name, files, "it is its own source_profile but has no static keys")),
            },
            (Some(src), None) => {
                if let Some(at) = chain.iter().position(|n| *n == src) {
                    let mut shown: Vec<&str> = chain[at..].iter().map(String::as_str).collect();
                    shown.push(&src);
                    return Err(bad(&chain[0], files, format_args!("profiles form a loop: {}", shown.join(" -> "))));
                }
                match resolve(files, &src, ctx, chain)? {
                    Some(s) => s,
                    None => {
                        return Err(bad(name, files, format_args!("source_profile {src:?} has no credentials")))
                    }
                }
            }
            (None, Some(cs)) => credential_source(name, files, &cs, ctx)?,
            (None, None) => {
                return Err(bad(name, files, "role_arn needs source_profile, credential_source or \
                    web_identity_token_file"))
            }
        };
        return Ok(Some(Source::Dynamic(Box::new(AssumeRole { base, role, sts: sts()? }))));
    }
    if get("sso_session").is_some() || get("sso_start_url").is_some() {
        return Err(bad(name, files, "SSO profiles are not supported (they need a browser login); \
            use credential_process = aws configure export-credentials --profile NAME --format process"));
    }
    if let Some(line) = get("credential_process") {
        let words = super::process::split(&line).map_err(|why| bad(name, files, format_args!("credential_process: {why}")))?;
        return Ok(Some(Source::Dynamic(Box::new(Process {
            words,
            profile: name.to_owned(),
            timeout: super::process::PROCESS_TIMEOUT,
        }))));
    }
    Ok(static_keys(name, files, &p)?.map(Source::Static))
}

/// The base credentials a `credential_source` names.
fn credential_source(name: &str, files: &Files, which: &str, ctx: &Ctx<'_>) -> Result<Source> {
    match which {
        "Environment" => match super::env_keys(ctx.env)? {
            Some(c) => Ok(Source::Static(c)),
            None => Err(bad(name, files, "credential_source Environment, but AWS_ACCESS_KEY_ID is not set")),
        },
        "Ec2InstanceMetadata" => {
            let base = super::imds::base_url(ctx.imds_endpoint, ctx.env);
            Ok(Source::Dynamic(Box::new(Imds::new(base, ctx.http, ctx.retry)?)))
        }
        "EcsContainer" => match Ecs::from_env(ctx.env, ctx.http, ctx.retry) {
            Some(ecs) => Ok(Source::Dynamic(Box::new(ecs?))),
            None => Err(bad(name, files, "credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_*_URI is set")),
        },
        other => Err(bad(name, files, format_args!(
            "credential_source {other:?} is not Environment, Ec2InstanceMetadata or EcsContainer"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1 ; inline comment
s3 =
  max_concurrent_requests = 20

[profile dev]
aws_access_key_id = AKDEV
aws_secret_access_key = sk/dev+1#notacomment

[profile Role]
role_arn = arn:aws:iam::123456789012:role/r
source_profile = dev
external_id = ext
role_session_name = sess

[profile a]
role_arn = arn:aws:iam::1:role/a
source_profile = b
[profile b]
role_arn = arn:aws:iam::1:role/b
source_profile = c
[profile c]
role_arn = arn:aws:iam::1:role/c
source_profile = a

[profile self]
role_arn = arn:aws:iam::1:role/self
source_profile = self
aws_access_key_id = AKSELF
aws_secret_access_key = SKSELF

[profile proc]
credential_process = /bin/creds --x \"a b\"

[profile sso]
sso_session = corp
[sso-session corp]
sso_start_url = https://x

[nobare]
aws_access_key_id = ignored
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKDEFAULT
aws_secret_access_key = SKDEFAULT
aws_session_token = TOKDEFAULT
[dev]
aws_secret_access_key = SKDEV-from-credentials
";

    fn ctx<'a>(env: &'a Env<'a>, http: &'a HttpConfig, retry: &'a RetryPolicy) -> Ctx<'a> {
        Ctx {
            env,
            http,
            retry,
            sts: ("http://127.0.0.1:9".into(), "us-east-1".into()),
            imds_endpoint: None,
        }
    }

    #[test]
    fn files_parse_into_profiles_with_the_credentials_file_winning() {
        let files = Files::from_text(CONFIG, CREDENTIALS);
        let d = files.profile("default").unwrap();
        assert_eq!(d.get("region").unwrap(), "eu-west-1");
        assert_eq!(d.get("aws_access_key_id").unwrap(), "AKDEFAULT");
        assert!(d.get("max_concurrent_requests").is_none());
        let dev = files.profile("dev").unwrap();
        assert_eq!(dev.get("aws_secret_access_key").unwrap(), "SKDEV-from-credentials");
        assert_eq!(dev.get("aws_access_key_id").unwrap(), "AKDEV");
        assert_eq!(files.profile("Role").unwrap().get("external_id").unwrap(), "ext");
        assert!(files.profile("role").is_none(), "profile names are case-sensitive");
        assert!(files.profile("nobare").is_none(), "a bare section in the config file is not a profile");
        assert!(files.profile("corp").is_none());
        assert_eq!(strip_comment("a#b"), "a#b");
        assert_eq!(strip_comment("a #b"), "a");
    }

    #[test]
    fn profiles_give_static_keys_processes_and_roles() {
        let files = Files::from_text(CONFIG, CREDENTIALS);
        let none = |_: &str| None;
        let (http, retry) = (HttpConfig::default(), RetryPolicy::default());
        let ctx = ctx(&none, &http, &retry);
        match source(&files, "default", &ctx).unwrap() {
            Some(Source::Static(c)) => {
                assert_eq!((c.key_id.as_str(), c.token.as_deref()), ("AKDEFAULT", Some("TOKDEFAULT")))
            }
            _ => panic!("static keys"),
        }
        assert!(matches!(source(&files, "Role", &ctx).unwrap(), Some(Source::Dynamic(_))));
        assert!(matches!(source(&files, "self", &ctx).unwrap(), Some(Source::Dynamic(_))));
        assert!(matches!(source(&files, "proc", &ctx).unwrap(), Some(Source::Dynamic(_))));
    }

    #[test]
    fn loops_missing_sources_and_sso_are_errors_that_name_the_profiles() {
        let files = Files::from_text(CONFIG, CREDENTIALS);
        let none = |_: &str| None;
        let (http, retry) = (HttpConfig::default(), RetryPolicy::default());
        let ctx = ctx(&none, &http, &retry);
        let e = source(&files, "a", &ctx).err().unwrap();
        assert!(e.to_string().contains("a -> b -> c -> a"), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        let e = source(&files, "b", &ctx).err().unwrap();
        assert!(e.to_string().contains("b -> c -> a -> b"), "{e}");
        let e = source(&files, "sso", &ctx).err().unwrap();
        assert!(e.to_string().contains("SSO") && e.to_string().contains("credential_process"), "{e}");
        let e = source(&files, "nope", &ctx).err().unwrap();
        assert!(e.to_string().contains("\"nope\""), "{e}");
        let files = Files::from_text("[profile x]\nrole_arn = r\nsource_profile = gone\n", "");
        let e = source(&files, "x", &ctx).err().unwrap();
        assert!(e.to_string().contains("\"gone\" does not exist"), "{e}");
        let files = Files::from_text("[profile x]\nrole_arn = r\n", "");
        assert!(source(&files, "x", &ctx).is_err());
        let files = Files::from_text("[profile x]\naws_access_key_id = AK\n", "");
        let e = source(&files, "x", &ctx).err().unwrap();
        assert!(e.to_string().contains("without aws_secret_access_key"), "{e}");
        let files = Files::from_text("[profile x]\nregion = us-west-2\n", "");
        assert!(source(&files, "x", &ctx).unwrap().is_none(), "a profile without credentials gives none");
    }
}
