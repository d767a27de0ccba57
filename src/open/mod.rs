//! Opening a store the way users configure one: a URL plus string options
//! ([`open`]), or what a store printed of itself ([`open_config`]: the Go
//! package hands a store to a subprocess as its kind and its
//! `config_json`). Typed configs ([`crate::S3Config`], ...) stay the Rust
//! way; this is the one that can grow forever without breaking a C caller.

pub(crate) mod options;
pub(crate) mod url;

use serde_json::Value as Json;

pub use self::options::Options;
use self::options::{lookup, Applies, Value};
use self::url::Target;
use crate::azure::{AzureBlobBackend, AzureBlobConfig};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::local::LocalBackend;
use crate::resilient::{ResilientBackend, ResilientConfig};
use crate::retry::RetryPolicy;
use crate::s3::{S3Backend, S3Config};

/// Opens the store `url` names, configured by `options`.
///
/// URLs: a plain path or `file:///abs/path` (the local store);
/// `s3://bucket/prefix`, `s3a://`, `https://bucket.s3.REGION.amazonaws.com/prefix`,
/// `https://s3.REGION.amazonaws.com/bucket/prefix`; `az://container/prefix`,
/// `azure://container/prefix`, `abfs[s]://container@ACCOUNT.dfs.core.windows.net/prefix`,
/// `https://ACCOUNT.blob.core.windows.net/container/prefix`. An option that
/// does not apply to the URL's kind of store is
/// [`crate::ErrorKind::InvalidArgument`]; `resilient=true` wraps the store
/// in [`ResilientBackend`].
pub fn open(url: &str, options: &Options) -> Result<Box<dyn Backend>> {
    open_store(url, options).map(Opened::into_backend)
}

/// What [`open`] made: the C layer keeps a resilient wrapper as itself, to
/// reach its circuit breaker.
pub(crate) enum Opened {
    Plain(Box<dyn Backend>),
    Resilient(Box<ResilientBackend>),
}

impl Opened {
    pub(crate) fn into_backend(self) -> Box<dyn Backend> {
        match self {
            Opened::Plain(b) => b,
            Opened::Resilient(r) => r,
        }
    }
}

/// [`open`], keeping what it made.
pub(crate) fn open_store(url: &str, options: &Options) -> Result<Opened> {
    build(url::parse(url)?, options)
}

/// Opens a store again from its [`Backend::kind`] and
/// [`Backend::config_json`] (a resilient store's JSON says so, with its
/// settings). Credentials never come from the JSON: they come from
/// `options`, the environment or the credential chain. `options` may also
/// change any other setting.
pub fn open_config(kind: &str, config_json: &str, options: &Options) -> Result<Box<dyn Backend>> {
    open_config_store(kind, config_json, options).map(Opened::into_backend)
}

/// [`open_config`], keeping what it made.
pub(crate) fn open_config_store(kind: &str, config_json: &str, options: &Options) -> Result<Opened> {
    let json: Json = serde_json::from_str(config_json)
        .map_err(|e| Error::invalid_argument(format!("config_json is not JSON: {e}")))?;
    let Json::Object(fields) = json else {
        return Err(Error::invalid_argument("config_json is not a JSON object"));
    };
    let mut opts = Options::new();
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (field, value) in &fields {
        match field.as_str() {
            "resilient" => {
                opts.set("resilient", "true")?;
                let Json::Object(r) = value else { continue };
                for (f, v) in r {
                    let key = match f.as_str() {
                        "max_failures" => "circuit_max_failures",
                        "open_timeout_ms" => "circuit_open_timeout_ms",
                        "half_open_max_requests" => "circuit_half_open_requests",
                        other => other,
                    };
                    if lookup(key).is_some() {
                        opts.set(key, &text(v))?;
                    }
                }
            }
            "path_style" => {
                let path = value.as_bool().unwrap_or(false);
                opts.set("url_style", if path { "path" } else { "vhost" })?;
            }
            // A secret is never in the JSON; `auth` only says which kind,
            // and `credential_source` which provider: the new store runs
            // the credential chain again.
            "auth" | "credential_source" => {}
            other => {
                if let Some((key, _)) = lookup(other) {
                    if key.value != Value::Secret && !value.is_null() {
                        opts.set(other, &text(value))?;
                    }
                }
            }
        }
    }
    for key in options.keys() {
        if let Some(v) = options.get(key) {
            opts.set(key, v)?;
        }
    }
    let target = match kind {
        "local" => Target::Local(
            opts.text("base_path")
                .ok_or_else(|| Error::invalid_argument("config_json of a local store has no base_path"))?
                .into(),
        ),
        "s3" => Target::S3 {
            bucket: opts.text("bucket").ok_or_else(|| Error::invalid_argument("config_json of an S3 store has no bucket"))?,
            prefix: String::new(),
            region: None,
        },
        "azure" => Target::Azure {
            container: opts
                .text("container")
                .ok_or_else(|| Error::invalid_argument("config_json of an Azure store has no container"))?,
            prefix: String::new(),
            account: None,
        },
        other => return Err(Error::invalid_argument(format!("unknown store kind {other:?} (local, s3, azure)"))),
    };
    build(target, &opts)
}

/// A non-secret setting of `store`, by option name (or alias):
/// `bucket`, `prefix`, `region`, `endpoint`, `container`, `account_name`,
/// `base_path`, `part_size`, ...; `credential_source` says which
/// provider of the chain supplied the credentials: for S3 `options`,
/// `env`, `web_identity`, `profile:NAME`, `ecs`, `imds`; for Azure
/// `shared_key`, `sas`, `client_secret`, `workload_identity`,
/// `app_service`, `managed_identity`; `anonymous` with `skip_signature`
/// for both. Asking for a secret is
/// [`crate::ErrorKind::PermissionDenied`]; a setting the store does not
/// have is [`crate::ErrorKind::InvalidArgument`].
pub fn store_option(store: &dyn Backend, key: &str) -> Result<String> {
    let Some((k, inverted)) = lookup(key) else {
        return Err(Error::invalid_argument(format!("unknown option {:?}", key.trim())));
    };
    if k.value == Value::Secret {
        return Err(Error::PermissionDenied {
            path: format!("option {}", k.name),
            remote: None,
            source: Some("a secret is never read back".into()),
        });
    }
    let json: Json = serde_json::from_str(&store.config_json()).unwrap_or(Json::Null);
    let field = |names: &[&str]| names.iter().find_map(|n| json.get(*n).filter(|v| !v.is_null()).cloned());
    let circuit = |name: &str| json.get("resilient").and_then(|r| r.get(name)).cloned();
    let found = match k.name {
        "url_style" => field(&["path_style"]).map(|v| Json::from(if v.as_bool() == Some(true) { "path" } else { "vhost" })),
        "allow_http" => field(&["use_ssl"]).map(|v| Json::from(v.as_bool() == Some(false))),
        "part_size" => field(&["part_size", "block_size"]),
        "multipart_threshold" => field(&["multipart_threshold", "single_put_threshold"]),
        "resilient" => Some(Json::from(json.get("resilient").is_some())),
        "circuit_max_failures" => circuit("max_failures"),
        "circuit_open_timeout_ms" => circuit("open_timeout_ms"),
        "circuit_half_open_requests" => circuit("half_open_max_requests"),
        "retry_delay_ms" | "retry_max_delay_ms" => circuit(k.name).or_else(|| field(&[k.name])),
        name => field(&[name]).or_else(|| circuit(name)),
    };
    let value = match found {
        Some(Json::String(s)) => s,
        Some(v) => v.to_string(),
        None => return Err(Error::invalid_argument(format!(
            "option {} is not a setting of this {} store",
            k.name,
            store.kind()
        ))),
    };
    // An inverted alias reads as it was set: use_ssl is !allow_http,
    // aws_virtual_hosted_style_request is url_style == vhost.
    Ok(match (inverted, k.value, value.as_str()) {
        (true, Value::Bool, "true") | (true, Value::UrlStyle, "path") => "false".to_owned(),
        (true, Value::Bool, "false") | (true, Value::UrlStyle, "vhost") => "true".to_owned(),
        _ => value,
    })
}

/// The one value of a setting that the URL and an option may both give.
fn one_of(what: &str, from_url: Option<String>, from_option: Option<String>) -> Result<Option<String>> {
    match (from_url, from_option) {
        (Some(a), Some(b)) if a != b => Err(Error::invalid_argument(format!(
            "{what} is {a:?} in the URL and {b:?} in the options"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn build(target: Target, o: &Options) -> Result<Opened> {
    let circuit_keys = ["circuit_max_failures", "circuit_open_timeout_ms", "circuit_half_open_requests"];
    let resilient = o.flag("resilient") == Some(true);
    if !resilient {
        if let Some(k) = circuit_keys.iter().find(|k| o.get(k).is_some()) {
            return Err(Error::invalid_argument(format!("option {k} needs resilient=true")));
        }
    }
    let store: Box<dyn Backend> = match target {
        Target::Local(path) => {
            o.check_applies(Applies::Local)?;
            let path = one_of("the base path", Some(path.to_string_lossy().into_owned()), o.text("base_path"))?
                .unwrap_or_default();
            Box::new(LocalBackend::with_durable(path, o.flag("durable") != Some(false))?)
        }
        Target::S3 { bucket, prefix, region } => {
            o.check_applies(Applies::S3)?;
            let mut cfg = S3Config::new(one_of("the bucket", Some(bucket), o.text("bucket"))?.unwrap_or_default());
            cfg.prefix = one_of("the prefix", non_empty(prefix), o.text("prefix"))?.unwrap_or_default();
            cfg.region = one_of("the region", region, o.text("region"))?;
            cfg.endpoint = o.text("endpoint");
            // The endpoint the store will use (the option, else what the
            // environment says) decides the default URL style.
            let endpoint = cfg.endpoint.clone().or_else(|| {
                ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                    .iter()
                    .find_map(|v| std::env::var(v).ok().filter(|e| !e.is_empty()))
            });
            cfg.path_style = match o.get("url_style") {
                Some(style) => style == "path",
                None => endpoint.as_deref().is_some_and(ip_or_localhost),
            };
            cfg.use_ssl = o.flag("allow_http") != Some(true);
            cfg.skip_signature = o.flag("skip_signature") == Some(true);
            cfg.access_key = o.text("access_key_id");
            cfg.secret_key = o.text("secret_access_key");
            cfg.session_token = o.text("session_token");
            cfg.profile = o.text("profile");
            cfg.sts_endpoint = o.text("sts_endpoint");
            cfg.imds_endpoint = o.text("imds_endpoint");
            read_only(o)?;
            http(o, &mut cfg.http);
            set(o, "multipart_threshold", &mut cfg.multipart_threshold);
            set(o, "part_size", &mut cfg.part_size);
            set_usize(o, "upload_concurrency", &mut cfg.upload_concurrency);
            set(o, "copy_threshold", &mut cfg.copy_threshold);
            set(o, "download_threshold", &mut cfg.download_threshold);
            set(o, "download_part_size", &mut cfg.download_part_size);
            set_usize(o, "download_concurrency", &mut cfg.download_concurrency);
            set(o, "download_parallel_below", &mut cfg.download_parallel_below);
            set(o, "coalesce_gap", &mut cfg.coalesce_gap);
            if let Some(c) = o.text("checksum") {
                cfg.checksum = c.parse()?;
            }
            cfg.retry = retry_policy(o);
            Box::new(S3Backend::new(cfg)?)
        }
        Target::Azure { container, prefix, account } => {
            o.check_applies(Applies::Azure)?;
            let mut cfg = AzureBlobConfig::new(one_of("the container", Some(container), o.text("container"))?.unwrap_or_default());
            cfg.prefix = one_of("the prefix", non_empty(prefix), o.text("prefix"))?.unwrap_or_default();
            cfg.account_name = one_of("the account", account, o.text("account_name"))?;
            cfg.account_key = o.text("account_key");
            cfg.sas_token = o.text("sas_token");
            cfg.connection_string = o.text("connection_string");
            cfg.endpoint = o.text("endpoint");
            cfg.skip_signature = o.flag("skip_signature") == Some(true);
            cfg.use_managed_identity = o.flag("use_managed_identity");
            cfg.managed_identity_client_id = o.text("managed_identity_client_id");
            cfg.managed_identity_endpoint = o.text("managed_identity_endpoint");
            cfg.object_id = o.text("object_id");
            cfg.msi_res_id = o.text("msi_res_id");
            cfg.client_id = o.text("client_id");
            cfg.client_secret = o.text("client_secret");
            cfg.tenant_id = o.text("tenant_id");
            cfg.federated_token_file = o.text("federated_token_file");
            cfg.authority_host = o.text("authority_host");
            read_only(o)?;
            http(o, &mut cfg.http);
            set(o, "multipart_threshold", &mut cfg.single_put_threshold);
            set(o, "part_size", &mut cfg.block_size);
            set_usize(o, "upload_concurrency", &mut cfg.upload_concurrency);
            set(o, "download_threshold", &mut cfg.download_threshold);
            set(o, "download_part_size", &mut cfg.download_part_size);
            set_usize(o, "download_concurrency", &mut cfg.download_concurrency);
            set(o, "download_parallel_below", &mut cfg.download_parallel_below);
            set(o, "coalesce_gap", &mut cfg.coalesce_gap);
            if let Some(c) = o.text("checksum") {
                cfg.checksum = c.parse()?;
            }
            if let Some(n) = o.number("list_page_size") {
                cfg.list_page_size = n as u32;
            }
            cfg.retry = retry_policy(o);
            Box::new(AzureBlobBackend::new(cfg)?)
        }
    };
    if !resilient {
        return Ok(Opened::Plain(store));
    }
    let policy = retry_policy(o);
    let defaults = ResilientConfig::default();
    let cfg = ResilientConfig {
        max_failures: o.number("circuit_max_failures").map_or(defaults.max_failures, |n| n as u32),
        open_timeout: o.millis("circuit_open_timeout_ms").unwrap_or(defaults.open_timeout),
        half_open_max_requests: o
            .number("circuit_half_open_requests")
            .map_or(defaults.half_open_max_requests, |n| n as u32),
        max_retries: policy.max_retries,
        retry_delay: policy.base_delay,
        retry_max_delay: policy.max_delay,
        retry_timeout: policy.retry_timeout,
    };
    Ok(Opened::Resilient(Box::new(ResilientBackend::new(store, cfg)?)))
}

/// `credential_source` is read back from a store, never set.
fn read_only(o: &Options) -> Result<()> {
    match o.get("credential_source") {
        Some(_) => Err(Error::invalid_argument(
            "credential_source is read back from a store (store_option), never set",
        )),
        None => Ok(()),
    }
}

/// An endpoint on an IP address or `localhost`: path-style URLs, as
/// virtual hosts cannot work there.
fn ip_or_localhost(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

fn set(o: &Options, key: &str, field: &mut u64) {
    if let Some(n) = o.number(key) {
        *field = n;
    }
}

fn set_usize(o: &Options, key: &str, field: &mut usize) {
    if let Some(n) = o.number(key) {
        *field = usize::try_from(n).unwrap_or(usize::MAX);
    }
}

fn http(o: &Options, http: &mut HttpConfig) {
    if let Some(p) = o.text("ca_bundle_path") {
        http.ca_bundle = Some(p.into());
    }
    if let Some(d) = o.millis("connect_timeout_ms") {
        http.timeouts.connect = d;
    }
    if let Some(d) = o.millis("request_timeout_ms") {
        http.timeouts.request = d;
    }
    if let Some(d) = o.millis("stall_timeout_ms") {
        http.timeouts.stall = d;
    }
}

fn retry_policy(o: &Options) -> RetryPolicy {
    let d = RetryPolicy::default();
    RetryPolicy {
        max_retries: o.number("max_retries").map_or(d.max_retries, |n| n as u32),
        base_delay: o.millis("retry_delay_ms").unwrap_or(d.base_delay),
        max_delay: o.millis("retry_max_delay_ms").unwrap_or(d.max_delay),
        jitter: true,
        retry_timeout: o.millis("retry_timeout_ms").unwrap_or(d.retry_timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_localhost_endpoints_want_path_style() {
        for e in ["http://127.0.0.1:9000", "localhost:9000", "http://[::1]:9000/", "10.0.0.1"] {
            assert!(ip_or_localhost(e), "{e}");
        }
        for e in ["https://s3.eu-west-1.amazonaws.com", "http://minio.internal:9000"] {
            assert!(!ip_or_localhost(e), "{e}");
        }
    }

    #[test]
    fn a_local_store_opens_from_a_path_and_reads_its_settings_back() {
        let dir = std::env::temp_dir().join(format!("blobio-open-{}", std::process::id()));
        let store = open(dir.to_str().unwrap(), &Options::new()).unwrap();
        store.write("k", b"v").unwrap();
        assert_eq!(store_option(&*store, "base_path").unwrap(), dir.to_string_lossy());
        assert_eq!(store_option(&*store, "ROOT").unwrap(), dir.to_string_lossy());
        let again = open_config(store.kind(), &store.config_json(), &Options::new()).unwrap();
        assert_eq!(again.read("k").unwrap(), b"v");
        let e = open(dir.to_str().unwrap(), &Options::new().with("region", "x").unwrap()).unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        let wrapped = open(dir.to_str().unwrap(), &Options::new().with("resilient", "true").unwrap()).unwrap();
        assert_eq!(store_option(&*wrapped, "circuit_max_failures").unwrap(), "5");
        let back = open_config(wrapped.kind(), &wrapped.config_json(), &Options::new()).unwrap();
        assert_eq!(store_option(&*back, "resilient").unwrap(), "true");
        assert_eq!(
            store_option(&*store, "secret").unwrap_err().kind(),
            crate::ErrorKind::PermissionDenied
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
