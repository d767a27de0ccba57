//! blobio: blocking object storage for C, C++ and Rust programs.
//!
//! One [`Backend`] trait reaches a local directory ([`LocalBackend`]), S3 and
//! every S3-compatible store, and Azure Blob Storage, without an async
//! runtime. The C ABI lives in `src/ffi/` and is described by
//! `include/blobio.h`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod azure;
pub mod backend;
pub mod cancel;
mod checksum;
mod credentials;
mod endpoint;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
mod fork;
// Entry points of the fuzz targets (fuzz/) and of the corpus replay test;
// not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod layout;
pub mod local;
pub mod open;
pub mod paths;
mod pool;
pub mod remote;
pub mod resilient;
pub mod retry;
pub mod s3;
mod stats;
mod time;
mod tls;
mod xml;

pub use azure::{AzureBlobBackend, AzureBlobConfig};
pub use backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister, ObjectMeta, PresignMethod, PutMode, PutOptions, PutResult, ReadRange,
};
pub use cancel::{with_progress, CancelToken};
pub use checksum::ChecksumAlgorithm;
pub use stats::{set_stats_enabled, stats_enabled};
pub use error::{BatchFailure, Error, ErrorKind, Result, ServiceDetail};
pub use http::{HttpConfig, Timeouts, SYSTEM_CA_BUNDLES};
pub use local::LocalBackend;
pub use resilient::{
    CircuitBreaker, CircuitState, CircuitStats, ReadSeek, ResilientBackend, ResilientConfig,
};
pub use layout::{get_local_base_path, get_storage_path};
pub use open::{open, open_config, store_option, Options};
pub use paths::{sanitize_s3_prefix, validate_key, validate_prefix, MAX_KEY_BYTES};
pub use remote::RemoteStore;
pub use retry::RetryPolicy;
pub use s3::{S3Backend, S3Config};
