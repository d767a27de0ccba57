//! The AWS credential chain, in the order the AWS SDKs use:
//!
//! 1. explicit options (`access_key_id`, `secret_access_key`,
//!    `session_token`), or `skip_signature` (unsigned requests, for
//!    public buckets) — source `options` / `anonymous`;
//! 2. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN` — `env`;
//! 3. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+
//!    `AWS_ROLE_SESSION_NAME`), STS `AssumeRoleWithWebIdentity` —
//!    `web_identity`;
//! 4. the shared files' profile: the `profile` option, else `AWS_PROFILE`,
//!    else `default` (see `profile.rs`) — `profile:NAME`;
//! 5. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//!    `_FULL_URI`, see `ecs.rs`) — `ecs`;
//! 6. EC2 instance metadata, IMDSv2 (unless `AWS_EC2_METADATA_DISABLED`
//!    is `true`; see `imds.rs`) — `imds`.
//!
//! The `profile` option, like a profile named to an SDK session, skips
//! steps 2 and 3: the profile asked for is the one used. `AWS_PROFILE`
//! only changes which profile step 4 reads.
//!
//! Which step supplies the credentials is decided at open from the
//! options, the environment and the files (nothing is fetched for that);
//! what a step fetches (STS, the container endpoint, a process, IMDS) is
//! fetched on first use and refreshed by the store's cache.
//!
//! Nothing found: [`crate::ErrorKind::PermissionDenied`] (what a request
//! without credentials gets from the server, but said before any is sent),
//! whose message lists every step and why it did not apply. When IMDS is
//! disabled this is the error of open itself; otherwise IMDS is the last
//! step, and the error comes from the first request whose credentials it
//! could not supply (the instance metadata endpoint does not answer on a
//! machine outside EC2: that takes about 2 s, then calls fail at once for
//! a while, see `cache.rs`). A profile, environment or endpoint that is
//! configured but wrong is an error of its own, never "nothing found".
//!
//! The region: the `region` option, `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! the profile's `region`, then, when the chain ends at IMDS, the
//! instance's region (asked at open); else `us-east-1`.

pub(crate) mod ecs;
pub(crate) mod imds;
pub(crate) mod process;
pub(crate) mod profile;
pub(crate) mod sigv4;
pub(crate) mod sts;
pub(crate) mod web_identity;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use self::imds::Imds;
use self::profile::{Files, Source};
use self::sts::{Role, Sts};
use self::web_identity::WebIdentity;
use super::cache::Cached;
use super::{AwsCredentials, Provider};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

pub(crate) use super::Env;

/// This process's environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// What a store's configuration says about its identity.
pub(crate) struct Settings<'a> {
    pub(crate) access_key: Option<&'a str>,
    pub(crate) secret_key: Option<&'a str>,
    pub(crate) session_token: Option<&'a str>,
    pub(crate) skip_signature: bool,
    pub(crate) profile: Option<&'a str>,
    pub(crate) region: Option<&'a str>,
    pub(crate) sts_endpoint: Option<&'a str>,
    pub(crate) imds_endpoint: Option<&'a str>,
    pub(crate) http: &'a HttpConfig,
    pub(crate) retry: &'a RetryPolicy,
}

/// The chain's answer.
pub(crate) struct Resolved {
    /// `None`: requests go unsigned (`skip_signature`).
    pub(crate) credentials: Option<Arc<Cached>>,
    /// The region, when something gave one.
    pub(crate) region: Option<String>,
    /// Which provider: `options`, `env`, `web_identity`, `profile:NAME`,
    /// `ecs`, `imds` or `anonymous`.
    pub(crate) source: String,
}

/// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
/// one without the other is an error.
pub(crate) fn env_keys(env: &Env<'_>) -> Result<Option<AwsCredentials>> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(k), Some(s)) => Ok(Some(AwsCredentials::new(k, s, env("AWS_SESSION_TOKEN")))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid_argument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")),
        (None, Some(_)) => Err(Error::invalid_argument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")),
    }
}

/// `~/...` expanded with the home directory.
pub(crate) fn expand_path(path: &str, env: &Env<'_>) -> PathBuf {
    let home = env("HOME").or_else(|| env("USERPROFILE"));
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
        _ => PathBuf::from(path),
    }
}

/// IMDS at the end of the chain: until it has answered once, its failure
/// is "nothing found", listing what else was tried.
struct LastResort {
    imds: Arc<Imds>,
    tried: Vec<String>,
    answered: AtomicBool,
}

impl Provider for LastResort {
    fn fetch(&self) -> Result<AwsCredentials> {
        match self.imds.fetch() {
            Ok(c) => {
                self.answered.store(true, Ordering::Relaxed);
                Ok(c)
            }
            Err(e) if !self.answered.load(Ordering::Relaxed) => {
                let mut tried = self.tried.clone();
                let said = e.to_string();
                tried.push(said.strip_prefix("AWS credentials: ").unwrap_or(&said).to_owned());
                Err(nothing_found(&tried))
            }
            Err(e) => Err(e),
        }
    }
}

/// No step of the chain applied: [`Error::PermissionDenied`] (C:
/// `BLOBIO_STATUS_PERMISSION_DENIED`), the status a request without
/// credentials would get, with every step and why it did not apply in the
/// message (the error's `path`, as its `Display` shows only that).
fn nothing_found(tried: &[String]) -> Error {
    Error::PermissionDenied {
        path: format!(
            "no AWS credentials found (tried: {}; configure one of them, or set skip_signature=true \
             for unsigned requests to a public bucket)",
            tried.join("; ")
        ),
        remote: None,
        source: None,
    }
}

/// Runs the chain.
pub(crate) fn resolve(s: &Settings<'_>, env: &Env<'_>) -> Result<Resolved> {
    let (profile_name, profile_chosen) = match (s.profile, env("AWS_PROFILE")) {
        (Some(p), _) => (p.to_owned(), true),
        (None, Some(p)) => (p, true),
        (None, None) => ("default".to_owned(), false),
    };
    let files = Files::load(env);
    let profile = files.profile(&profile_name);
    let mut region = s
        .region
        .map(str::to_owned)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.as_ref().and_then(|p| p.get("region")).filter(|r| !r.is_empty()).cloned());
    let fixed = |c: AwsCredentials, source: &str| Resolved {
        credentials: Some(Arc::new(Cached::fixed(c, source))),
        region: None,
        source: source.to_owned(),
    };
    let with_region = |mut r: Resolved, region: &Option<String>| {
        r.region = region.clone();
        Ok(r)
    };
    if s.skip_signature {
        return with_region(Resolved { credentials: None, region: None, source: "anonymous".into() }, &region);
    }
    let mut tried = Vec::new();
    match (s.access_key, s.secret_key) {
        (Some(k), Some(sk)) => {
            let c = AwsCredentials::new(k.to_owned(), sk.to_owned(), s.session_token.map(str::to_owned));
            return with_region(fixed(c, "options"), &region);
        }
        (None, None) if s.session_token.is_some() => {
            return Err(Error::invalid_argument("option session_token needs access_key_id and secret_access_key"))
        }
        (None, None) => tried.push("options: no access_key_id".to_owned()),
        _ => return Err(Error::invalid_argument("S3 access key and secret key must be given together")),
    }
    let sts_region = region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    let sts_at = sts::endpoint(s.sts_endpoint, env, &sts_region);
    if s.profile.is_none() {
        if let Some(c) = env_keys(env)? {
            return with_region(fixed(c, "env"), &region);
        }
        tried.push("environment: AWS_ACCESS_KEY_ID not set".to_owned());
        match (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
            (Some(file), Some(arn)) => {
                let provider = WebIdentity {
                    token_file: expand_path(&file, env),
                    role: Role {
                        arn,
                        session_name: env("AWS_ROLE_SESSION_NAME"),
                        external_id: None,
                        duration_seconds: None,
                    },
                    sts: Sts::new(&sts_at.0, &sts_at.1, s.http, s.retry)?,
                };
                let r = Resolved {
                    credentials: Some(Arc::new(Cached::new(Box::new(provider), "web_identity"))),
                    region: None,
                    source: "web_identity".into(),
                };
                return with_region(r, &region);
            }
            (Some(_), None) => tried.push("web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".into()),
            (None, _) => tried.push("web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set".into()),
        }
    } else {
        tried.push("environment and web identity: skipped, the profile option names a profile".into());
    }
    let ctx = profile::Ctx { env, http: s.http, retry: s.retry, sts: sts_at, imds_endpoint: s.imds_endpoint };
    let source = format!("profile:{profile_name}");
    match &profile {
        Some(_) => match profile::source(&files, &profile_name, &ctx)? {
            Some(Source::Static(c)) => return with_region(fixed(c, &source), &region),
            Some(Source::Dynamic(p)) => {
                let r = Resolved {
                    credentials: Some(Arc::new(Cached::new(p, source.clone()))),
                    region: None,
                    source,
                };
                return with_region(r, &region);
            }
            None => tried.push(format!("profile {profile_name:?} in {}: no credentials in it", files.where_())),
        },
        None if profile_chosen => {
            return Err(Error::invalid_argument(format!(
                "AWS profile {profile_name:?} is not in {}",
                files.where_()
            )))
        }
        None => tried.push(format!("profile \"default\": not in {}", files.where_())),
    }
    if let Some(ecs) = ecs::Ecs::from_env(env, s.http, s.retry) {
        let r = Resolved { credentials: Some(Arc::new(Cached::new(Box::new(ecs?), "ecs"))), region: None, source: "ecs".into() };
        return with_region(r, &region);
    }
    tried.push("container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set".into());
    if imds::disabled(env) {
        tried.push("instance metadata: disabled by AWS_EC2_METADATA_DISABLED".into());
        return Err(nothing_found(&tried));
    }
    let imds = Arc::new(Imds::new(imds::base_url(s.imds_endpoint, env), s.http, s.retry)?);
    let last = LastResort { imds: Arc::clone(&imds), tried, answered: AtomicBool::new(false) };
    let cache = Arc::new(Cached::new(Box::new(last), "imds"));
    if region.is_none() {
        // On EC2 the region is the instance's. Credentials are fetched
        // first: off EC2 that fails (and is remembered by the cache), and
        // the region is not asked for as well.
        match cache.get() {
            Ok(_) => match imds.region() {
                Ok(r) => region = Some(r),
                Err(e) => log::warn!("no region from instance metadata, using us-east-1: {e}"),
            },
            Err(e) => log::debug!("instance metadata: {e}"),
        }
    }
    with_region(Resolved { credentials: Some(cache), region: None, source: "imds".into() }, &region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned().filter(|v| !v.is_empty())
    }

    fn settings<'a>(http: &'a HttpConfig, retry: &'a RetryPolicy) -> Settings<'a> {
        Settings {
            access_key: None,
            secret_key: None,
            session_token: None,
            skip_signature: false,
            profile: None,
            region: None,
            sts_endpoint: None,
            imds_endpoint: None,
            http,
            retry,
        }
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn temp_dir(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("blobio-creds-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    #[test]
    fn options_then_env_then_profile_in_that_order() {
        let (http, retry) = (HttpConfig::default(), RetryPolicy::default());
        let dir = temp_dir("order");
        let creds = dir.0.join("credentials");
        std::fs::write(&creds, "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n").unwrap();
        std::fs::write(dir.0.join("config"), "[default]\nregion = ap-south-1\n[profile other]\nregion = eu-north-1\n").unwrap();
        let cfile = dir.0.join("config");
        let base = [
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_CONFIG_FILE", cfile.to_str().unwrap()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        let mut with_env = base.to_vec();
        with_env.extend([("AWS_ACCESS_KEY_ID", "AKENV"), ("AWS_SECRET_ACCESS_KEY", "SKENV")]);
        let env = env_of(&with_env);
        let mut s = settings(&http, &retry);
        s.access_key = Some("AKOPT");
        s.secret_key = Some("SKOPT");
        let r = resolve(&s, &env).unwrap();
        assert_eq!(r.source, "options");
        assert_eq!(r.credentials.unwrap().get().unwrap().key_id, "AKOPT");
        assert_eq!(r.region.as_deref(), Some("ap-south-1"), "the profile's region");
        let s = settings(&http, &retry);
        let r = resolve(&s, &env).unwrap();
        assert_eq!((r.source.as_str(), r.credentials.unwrap().get().unwrap().key_id.as_str()), ("env", "AKENV"));
        let env = env_of(&base);
        let r = resolve(&s, &env).unwrap();
        assert_eq!(r.source, "profile:default");
        assert_eq!(r.credentials.unwrap().get().unwrap().key_id, "AKFILE");
        // The profile option skips the environment; a chosen profile that
        // does not exist is an error.
        let env = env_of(&with_env);
        let mut s = settings(&http, &retry);
        s.profile = Some("default");
        assert_eq!(resolve(&s, &env).unwrap().source, "profile:default");
        s.profile = Some("missing");
        let e = resolve(&s, &env).err().unwrap();
        assert!(e.to_string().contains("\"missing\" is not in"), "{e}");
        // A profile with a region only: the chain goes on, and here ends.
        s.profile = Some("other");
        let e = resolve(&s, &env).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied);
        for part in ["no AWS credentials found", "profile \"other\"", "no credentials in it", "container",
            "AWS_EC2_METADATA_DISABLED", "skip_signature"] {
            assert!(e.to_string().contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn nothing_configured_lists_every_step_and_never_a_secret() {
        let (http, retry) = (HttpConfig::default(), RetryPolicy::default());
        let env = env_of(&[("HOME", "/nonexistent-home"), ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_SECRET_ACCESS_KEY", "")]);
        let e = resolve(&settings(&http, &retry), &env).err().unwrap();
        let msg = e.to_string();
        for part in ["options", "environment", "web identity", "profile \"default\"",
            "/nonexistent-home/.aws/credentials", "container", "instance metadata"] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
        let env = env_of(&[("AWS_SECRET_ACCESS_KEY", "s3cr3t")]);
        let e = resolve(&settings(&http, &retry), &env).err().unwrap();
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID is not") && !e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn web_identity_comes_before_the_profile_and_skip_signature_before_all() {
        let (http, retry) = (HttpConfig::default(), RetryPolicy::default());
        let env = env_of(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"), ("AWS_ROLE_ARN", "arn:aws:iam::1:role/x"),
            ("AWS_ACCESS_KEY_ID", "")]);
        let r = resolve(&settings(&http, &retry), &env).unwrap();
        assert_eq!(r.source, "web_identity");
        let mut s = settings(&http, &retry);
        s.skip_signature = true;
        let r = resolve(&s, &env).unwrap();
        assert!(r.credentials.is_none());
        assert_eq!(r.source, "anonymous");
        let env = env_of(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"), ("HOME", "/nonexistent-home")]);
        assert_eq!(resolve(&settings(&http, &retry), &env).unwrap().source, "ecs");
    }
}
