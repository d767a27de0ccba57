//! String options: every setting of every store as a key with a string
//! value, checked when it is set. The names are blobio's; object_store's
//! and DuckDB's secret parameter names are accepted as aliases, so a user
//! can paste what they already have.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// Which stores a key applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    S3,
    Azure,
    /// S3 and Azure.
    Remote,
    Local,
    /// Every store.
    Any,
}

/// How a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A whole number within the bounds.
    Count(u64, u64),
    /// Bytes, plain or with `KiB`/`MiB`/`GiB`/`TiB` (or `KB`, `MB`, ... as
    /// powers of 1000), within the bounds.
    Size(u64, u64),
    /// Milliseconds, within the bounds.
    Millis(u64, u64),
    /// Text without control characters.
    Text,
    /// Text without control characters that is never shown.
    Secret,
    /// `path` or `vhost`.
    UrlStyle,
}

/// One key: its name, its aliases, where it applies, how it reads.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    pub(crate) applies: Applies,
    pub(crate) value: Value,
    /// An alias whose boolean means the opposite (`use_ssl` for
    /// `allow_http`).
    pub(crate) inverted: &'static [&'static str],
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const DAY_MS: u64 = 24 * 3600 * 1000;

macro_rules! key {
    ($name:literal, [$($alias:literal),*], $applies:ident, $value:expr) => {
        key!($name, [$($alias),*], $applies, $value, [])
    };
    ($name:literal, [$($alias:literal),*], $applies:ident, $value:expr, [$($inv:literal),*]) => {
        Key {
            name: $name,
            aliases: &[$($alias),*],
            applies: Applies::$applies,
            value: $value,
            inverted: &[$($inv),*],
        }
    };
}

/// Every key. Later issues add rows here, never structs.
pub(crate) static KEYS: &[Key] = &[
    // S3
    key!("region", ["aws_region", "aws_default_region"], S3, Value::Text),
    key!("endpoint", ["aws_endpoint", "aws_endpoint_url", "endpoint_url", "azure_storage_endpoint"], Remote, Value::Text),
    key!("access_key_id", ["aws_access_key_id", "key_id"], S3, Value::Secret),
    key!("secret_access_key", ["aws_secret_access_key", "secret"], S3, Value::Secret),
    key!("session_token", ["aws_session_token", "token", "aws_token"], S3, Value::Secret),
    key!("url_style", ["aws_virtual_hosted_style_request"], S3, Value::UrlStyle),
    key!("allow_http", ["aws_allow_http", "use_ssl"], S3, Value::Bool, ["use_ssl"]),
    key!("skip_signature", ["aws_skip_signature", "azure_skip_signature"], Remote, Value::Bool),
    key!("bucket", ["aws_bucket", "aws_bucket_name", "bucket_name"], S3, Value::Text),
    key!("profile", ["aws_profile"], S3, Value::Text),
    key!("sts_endpoint", ["aws_sts_endpoint", "endpoint_url_sts", "aws_endpoint_url_sts"], S3, Value::Text),
    key!("imds_endpoint", ["aws_imds_endpoint", "aws_ec2_metadata_service_endpoint", "metadata_endpoint"], S3, Value::Text),
    // Read back only: which provider supplied the credentials.
    key!("credential_source", [], Remote, Value::Text),
    // Azure
    key!("account_name", ["azure_storage_account_name", "account"], Azure, Value::Text),
    key!("account_key", ["azure_storage_account_key", "azure_storage_access_key", "access_key"], Azure, Value::Secret),
    key!("sas_token", ["azure_storage_sas_token", "azure_storage_sas_key", "sas_key"], Azure, Value::Secret),
    key!("connection_string", ["azure_storage_connection_string"], Azure, Value::Secret),
    key!("container", ["azure_container_name", "container_name"], Azure, Value::Text),
    key!("list_page_size", [], Azure, Value::Count(1, 5000)),
    key!("use_managed_identity", ["azure_use_managed_identity", "azure_msi"], Azure, Value::Bool),
    key!("managed_identity_client_id", ["azure_msi_client_id"], Azure, Value::Text),
    key!("managed_identity_endpoint", ["azure_msi_endpoint", "msi_endpoint", "azure_identity_endpoint", "identity_endpoint"], Azure, Value::Text),
    key!("object_id", ["azure_object_id"], Azure, Value::Text),
    key!("msi_res_id", ["msi_resource_id", "azure_msi_resource_id"], Azure, Value::Text),
    key!("client_id", ["azure_client_id", "azure_storage_client_id"], Azure, Value::Text),
    key!("client_secret", ["azure_client_secret", "azure_storage_client_secret"], Azure, Value::Secret),
    key!("tenant_id", ["azure_tenant_id", "azure_storage_tenant_id", "azure_authority_id", "azure_storage_authority_id", "authority_id"], Azure, Value::Text),
    key!("federated_token_file", ["azure_federated_token_file"], Azure, Value::Text),
    key!("authority_host", ["azure_authority_host", "azure_storage_authority_host"], Azure, Value::Text),
    // Both remote stores
    key!("prefix", [], Remote, Value::Text),
    key!("ca_bundle_path", ["ca_bundle", "ssl_ca_bundle"], Remote, Value::Text),
    key!("connect_timeout_ms", [], Remote, Value::Millis(1, DAY_MS)),
    key!("request_timeout_ms", ["timeout_ms"], Remote, Value::Millis(1, DAY_MS)),
    key!("stall_timeout_ms", [], Remote, Value::Millis(1, DAY_MS)),
    key!("part_size", ["block_size", "multipart_chunksize"], Remote, Value::Size(1, 5 * GIB)),
    key!("multipart_threshold", ["single_put_threshold"], Remote, Value::Size(0, u64::MAX)),
    key!("upload_concurrency", ["max_concurrency"], Remote, Value::Count(1, 256)),
    key!("copy_threshold", [], S3, Value::Size(0, 5 * GIB)),
    key!("download_threshold", [], Remote, Value::Size(0, u64::MAX)),
    key!("download_part_size", [], Remote, Value::Size(1, 5 * GIB)),
    key!("download_concurrency", [], Remote, Value::Count(1, 256)),
    key!("download_parallel_below", [], Remote, Value::Size(0, u64::MAX)),
    key!("coalesce_gap", [], Remote, Value::Size(0, 5 * GIB)),
    key!("checksum", ["checksum_algorithm"], Remote, Value::Text),
    key!("max_retries", ["retries"], Any, Value::Count(0, 100)),
    key!("retry_delay_ms", [], Any, Value::Millis(0, DAY_MS)),
    key!("retry_max_delay_ms", [], Any, Value::Millis(0, DAY_MS)),
    key!("retry_timeout_ms", [], Any, Value::Millis(0, DAY_MS)),
    // The resilient wrapper around any store
    key!("resilient", [], Any, Value::Bool),
    key!("circuit_max_failures", [], Any, Value::Count(1, 1_000_000)),
    key!("circuit_open_timeout_ms", [], Any, Value::Millis(0, DAY_MS)),
    key!("circuit_half_open_requests", [], Any, Value::Count(1, 1_000_000)),
    // The local store
    key!("base_path", ["root", "path"], Local, Value::Text),
    key!("durable", [], Local, Value::Bool),
];

/// The key `name` (or an alias of it), case-insensitive.
pub(crate) fn lookup(name: &str) -> Option<(&'static Key, bool)> {
    let lower = name.trim().to_ascii_lowercase();
    KEYS.iter().find_map(|k| {
        if k.name == lower {
            Some((k, false))
        } else if k.aliases.contains(&lower.as_str()) {
            Some((k, k.inverted.contains(&lower.as_str()) || lower == "aws_virtual_hosted_style_request"))
        } else {
            None
        }
    })
}

/// Options for [`crate::open`]: keys and string values, each checked when
/// it is set. Keys are case-insensitive; setting one twice keeps the last
/// value. `Debug` never shows a secret.
#[derive(Clone, Default)]
pub struct Options {
    /// Canonical key to value (already un-inverted).
    values: BTreeMap<&'static str, String>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            let secret = lookup(k).is_some_and(|(key, _)| key.value == Value::Secret);
            m.entry(k, &if secret { "<redacted>" } else { v.as_str() });
        }
        m.finish()
    }
}

/// The value as shown in an error message: never a secret.
fn shown(key: &Key, value: &str) -> String {
    if key.value == Value::Secret {
        "(secret, not shown)".to_owned()
    } else {
        format!("{value:?}")
    }
}

fn bad(key: &Key, given: &str, value: &str, why: &str) -> Error {
    let alias = if given.eq_ignore_ascii_case(key.name) {
        String::new()
    } else {
        format!(" (as {given:?})")
    };
    Error::invalid_argument(format!(
        "option {}{alias} = {}: {why}",
        key.name,
        shown(key, value)
    ))
}

pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Bytes, plain or with a unit.
pub(crate) fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        "t" | "tib" => 1024 * GIB,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "tb" => 1000 * 1000 * 1000 * 1000,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Options {
    /// No options.
    pub fn new() -> Self {
        Options::default()
    }

    /// Sets `key` (a name or an alias, any case) to `value`.
    /// [`crate::ErrorKind::InvalidArgument`] naming the key (and the value,
    /// unless it is a secret) when the key is unknown or the value does
    /// not read as the key's kind or lies outside its range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let Some((k, inverted)) = lookup(key) else {
            return Err(Error::invalid_argument(format!("unknown option {:?}", key.trim())));
        };
        if value.chars().any(|c| c.is_control()) {
            return Err(bad(k, key, value, "contains a control character"));
        }
        let stored = match k.value {
            Value::Bool => {
                let b = parse_bool(value).ok_or_else(|| bad(k, key, value, "not true or false"))?;
                (b != inverted).to_string()
            }
            Value::UrlStyle if inverted => {
                // aws_virtual_hosted_style_request: true means vhost.
                let b = parse_bool(value).ok_or_else(|| bad(k, key, value, "not true or false"))?;
                if b { "vhost" } else { "path" }.to_owned()
            }
            Value::UrlStyle => match value.trim().to_ascii_lowercase().as_str() {
                "path" => "path".to_owned(),
                "vhost" | "virtual" | "virtual_hosted" => "vhost".to_owned(),
                _ => return Err(bad(k, key, value, "not path or vhost")),
            },
            Value::Count(lo, hi) | Value::Millis(lo, hi) => {
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(k, key, value, "not a whole number"))?;
                if !(lo..=hi).contains(&n) {
                    return Err(bad(k, key, value, &format!("outside {lo}..={hi}")));
                }
                n.to_string()
            }
            Value::Size(lo, hi) => {
                let n = parse_size(value)
                    .ok_or_else(|| bad(k, key, value, "not a size (bytes, or with KiB, MiB, GiB)"))?;
                if !(lo..=hi).contains(&n) {
                    return Err(bad(k, key, value, &format!("outside {lo}..={hi} bytes")));
                }
                n.to_string()
            }
            Value::Text | Value::Secret => value.trim().to_owned(),
        };
        self.values.insert(k.name, stored);
        Ok(())
    }

    /// A builder form of [`Options::set`].
    pub fn with(mut self, key: &str, value: &str) -> Result<Self> {
        self.set(key, value)?;
        Ok(self)
    }

    /// The value of the canonical key `name`, when set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(parse_bool)
    }

    /// A number (counts, sizes and milliseconds are stored as numbers).
    pub(crate) fn number(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    pub(crate) fn millis(&self, name: &str) -> Option<Duration> {
        self.number(name).map(Duration::from_millis)
    }

    /// The keys set, canonical names.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }

    /// Refuses keys that do not apply to a store of `kind`.
    pub(crate) fn check_applies(&self, kind: Applies) -> Result<()> {
        for name in self.keys() {
            let Some((k, _)) = lookup(name) else { continue };
            let ok = match (k.applies, kind) {
                (Applies::Any, _) => true,
                (Applies::Remote, Applies::S3 | Applies::Azure) => true,
                (a, b) => a == b,
            };
            if !ok {
                let kind = match kind {
                    Applies::S3 => "an S3 store",
                    Applies::Azure => "an Azure store",
                    _ => "a local store",
                };
                return Err(Error::invalid_argument(format!("option {name} does not apply to {kind}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_aliases_are_case_insensitive_and_the_last_value_wins() {
        let mut o = Options::new();
        o.set("AWS_REGION", "eu-west-1").unwrap();
        o.set("region", "us-east-2").unwrap();
        assert_eq!(o.get("region"), Some("us-east-2"));
        o.set("Key_Id", "AK").unwrap();
        assert_eq!(o.get("access_key_id"), Some("AK"));
        o.set("use_ssl", "false").unwrap();
        assert_eq!(o.get("allow_http"), Some("true"), "use_ssl is inverted");
        o.set("aws_virtual_hosted_style_request", "true").unwrap();
        assert_eq!(o.get("url_style"), Some("vhost"));
        o.set("part_size", "8 MiB").unwrap();
        assert_eq!(o.number("part_size"), Some(8 * MIB));
        o.set("request_timeout_ms", "2500").unwrap();
        assert_eq!(o.millis("request_timeout_ms"), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn bad_keys_and_values_name_the_key_and_never_show_a_secret() {
        let mut o = Options::new();
        let e = o.set("regoin", "x").unwrap_err();
        assert!(e.to_string().contains("regoin"), "{e}");
        for (k, v, want) in [
            ("max_retries", "lots", "max_retries"),
            ("max_retries", "101", "outside"),
            ("part_size", "5 PiB", "part_size"),
            ("allow_http", "maybe", "allow_http"),
            ("url_style", "sideways", "url_style"),
            ("endpoint", "http://h/\r\nx", "control character"),
            ("account_name", "acc\nount", "control character"),
        ] {
            let e = o.set(k, v).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.to_string().contains(want), "{k}={v:?}: {e}");
        }
        let e = o.set("secret_access_key", "s3cr3t\n").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        o.set("secret", "s3cr3t").unwrap();
        assert!(!format!("{o:?}").contains("s3cr3t"));
    }

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("5242880"), Some(5 * MIB));
        assert_eq!(parse_size("5MiB"), Some(5 * MIB));
        assert_eq!(parse_size(" 2 GiB "), Some(2 * GIB));
        assert_eq!(parse_size("1MB"), Some(1_000_000));
        assert_eq!(parse_size("1.5MiB"), None);
        assert_eq!(parse_size("99999999999999 TiB"), None);
    }

    #[test]
    fn keys_of_another_kind_are_refused_at_open() {
        let o = Options::new().with("account_name", "a").unwrap();
        assert!(o.check_applies(Applies::Azure).is_ok());
        let e = o.check_applies(Applies::S3).unwrap_err();
        assert!(e.to_string().contains("account_name"), "{e}");
        let o = Options::new().with("max_retries", "1").unwrap();
        assert!(o.check_applies(Applies::Local).is_ok());
        let o = Options::new().with("part_size", "8MiB").unwrap();
        assert!(o.check_applies(Applies::Local).is_err());
        for (k, v) in [("aws_profile", "dev"), ("sts_endpoint", "http://127.0.0.1:1"), ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[::1]:2")] {
            let o = Options::new().with(k, v).unwrap();
            assert!(o.check_applies(Applies::S3).is_ok(), "{k}");
            assert!(o.check_applies(Applies::Azure).is_err(), "{k}");
        }
        assert_eq!(lookup("endpoint_url_sts").unwrap().0.name, "sts_endpoint");
        assert_eq!(lookup("metadata_endpoint").unwrap().0.name, "imds_endpoint");
    }
}
