//! Presigned URLs: a blob service SAS, signed with the account key.
//!
//! The string to sign is the service SAS's of the signed version (2020-12-06
//! and later): permissions, start, expiry, `/blob/<account>/<container>/<blob>`,
//! identifier, IP, protocol, version, resource (`b`), snapshot time,
//! encryption scope and the five response-header overrides, one per line.
//! blobio sets permissions, expiry, version and resource; start is left out
//! (valid at once, whatever the clocks say), and the protocol too, so that
//! an `http` endpoint (Azurite) can use it.

use std::time::Duration;

use percent_encoding::utf8_percent_encode;

use super::auth::{signature, API_VERSION};
use super::request::QUERY_SET;
use super::Azure;
use crate::backend::PresignMethod;
use crate::error::{Error, Result};
use crate::remote::Presign;

impl Presign for Azure {
    fn presign(&self, method: PresignMethod, path: &str, key: &str, expires: Duration) -> Result<String> {
        let Some(account_key) = self.auth.shared_key() else {
            return Err(Error::Unsupported {
                operation: "presign (a blob SAS is signed with the account key; this store has none)",
                backend: "azure",
            });
        };
        let permissions = match method {
            PresignMethod::Get | PresignMethod::Head => "r",
            PresignMethod::Put => "cw",
        };
        let now = jiff::Timestamp::now().as_second();
        let expiry = jiff::Timestamp::from_second(now.saturating_add(expires.as_secs() as i64))
            .map_err(|e| Error::invalid_argument(format!("{path}: expiry: {e}")))?
            .to_string();
        let resource = format!("/blob/{}/{}/{}", self.account, self.container, key);
        let to_sign = [
            permissions,
            "",
            &expiry,
            &resource,
            "",
            "",
            "",
            API_VERSION,
            "b",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let sig = signature(account_key, &to_sign);
        let mut url = String::with_capacity(self.origin.len() + key.len() + 200);
        url.push_str(&self.origin);
        url.push_str(&self.blob_path(key));
        for (i, (name, value)) in
            [("sp", permissions), ("se", &expiry), ("sv", API_VERSION), ("sr", "b"), ("sig", &sig)]
                .into_iter()
                .enumerate()
        {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY_SET));
        }
        Ok(url)
    }
}
