//! Presigned URLs: the signer every request goes through, with the
//! caller's lifetime instead of the request's.

use std::time::Duration;

use rusty_s3::Method;

use super::S3;
use crate::backend::PresignMethod;
use crate::error::Result;
use crate::remote::Presign;

impl Presign for S3 {
    fn presign(&self, method: PresignMethod, _path: &str, key: &str, expires: Duration) -> Result<String> {
        let method = match method {
            PresignMethod::Get => Method::Get,
            PresignMethod::Put => Method::Put,
            PresignMethod::Head => Method::Head,
        };
        self.sign_for(method, Some(key), &[], &[], expires)
    }
}
