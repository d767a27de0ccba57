//! Web identity (EKS IAM roles for service accounts, and any OIDC issuer):
//! the token file is read again for every fetch (the orchestrator rotates
//! it) and exchanged for credentials with STS `AssumeRoleWithWebIdentity`.
//!
//! Configured by `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+
//! `AWS_ROLE_SESSION_NAME`), or by a profile's `web_identity_token_file` +
//! `role_arn` (+ `role_session_name`, `duration_seconds`).

use std::path::PathBuf;

use super::sts::{Role, Sts};
use crate::credentials::{AwsCredentials, Provider};
use crate::error::{Error, Result};

/// Exchanges the token in a file for credentials.
#[derive(Debug)]
pub(crate) struct WebIdentity {
    pub(crate) token_file: PathBuf,
    pub(crate) role: Role,
    pub(crate) sts: Sts,
}

/// The web identity token in `file`, trimmed.
pub(crate) fn read_token(file: &std::path::Path, what: &str) -> Result<String> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| Error::Io {
        path: format!("{what} token file {shown}"),
        operation: "read",
        source: e,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::invalid_argument(format!("{what} token file {shown} is empty")));
    }
    Ok(token.to_owned())
}

impl Provider for WebIdentity {
    fn fetch(&self) -> Result<AwsCredentials> {
        let token = read_token(&self.token_file, "web identity")?;
        self.sts.assume_role_with_web_identity(&token, &self.role)
    }
}
