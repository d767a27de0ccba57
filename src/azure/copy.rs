//! Copy Blob: the service copies, on its own time. The engine
//! (`src/remote/copy.rs`) polls the destination until `x-ms-copy-status`
//! says the copy is done.

use super::put::conditioned;
use super::request::Req;
use super::Azure;
use crate::error::{Error, Result};
use crate::http::{header, RequestBody, Response};
use crate::remote::client::Client;
use crate::remote::{CopyState, PutArgs, ServerCopy};

impl ServerCopy for Azure {
    /// Copy Blob from a blob of this container (same account: the request's
    /// own authorisation covers the source; a SAS goes on the source URL
    /// too), under the mode's condition on the destination. The blob's
    /// properties and metadata come with it.
    fn copy(
        &self,
        c: &Client,
        path: &str,
        src: &str,
        dst: &str,
        o: &PutArgs<'_>,
    ) -> Result<(Option<String>, CopyState)> {
        let mut source = format!("{}{}", self.origin, self.blob_path(src));
        if let Some(sas) = self.auth.sas() {
            source.push('?');
            source.push_str(sas.trim_start_matches('?'));
        }
        let req = conditioned(
            Req::new("PUT", self.blob_path(dst)).header("x-ms-copy-source", source),
            o,
        );
        let resp = self.send(c, path, &req, RequestBody::Empty)?;
        Ok((header(&resp, "etag").map(str::to_owned), self.copy_state(&resp)))
    }

    /// `x-ms-copy-status`: `success`, `pending`, `failed` or `aborted`
    /// (with `x-ms-copy-status-description`); no status is a blob that was
    /// never the target of a copy.
    fn copy_state(&self, resp: &Response) -> CopyState {
        match header(resp, "x-ms-copy-status") {
            None | Some("success") => CopyState::Done,
            Some("pending") => CopyState::Pending,
            Some(other) => CopyState::Failed(format!(
                "x-ms-copy-status {other}: {}",
                header(resp, "x-ms-copy-status-description").unwrap_or("no description")
            )),
        }
    }

    /// Never called: Copy Blob copies any size in one request.
    fn copy_part(
        &self,
        _c: &Client,
        _path: &str,
        _src: &str,
        _src_etag: &str,
        _dst: &str,
        _upload: &str,
        _n: u32,
        _range: (u64, u64),
    ) -> Result<crate::remote::Part> {
        Err(Error::Unsupported {
            operation: "copy in parts",
            backend: "azure",
        })
    }
}
