//! Where an argument points: a store (what `blobio::open` opens) and a key
//! in it. `s3://bucket/a/b` is the store `s3://bucket` and the key `a/b`;
//! a plain path is the local store of its folder and the file's name, or
//! the folder itself when it is one.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Local,
    S3,
    Azure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// What `blobio::open` gets.
    pub store: String,
    /// The key (or prefix) inside it; may end with `/` or be empty.
    pub key: String,
    pub kind: Kind,
    /// An existing local folder, or a path written with a trailing `/`.
    pub dir: bool,
}

impl Loc {
    /// Parses a command-line argument.
    pub fn parse(arg: &str) -> Result<Loc, String> {
        if arg.is_empty() {
            return Err("an empty path".into());
        }
        let Some((scheme, rest)) = arg.split_once("://") else {
            return Ok(local(arg));
        };
        let lower = scheme.to_ascii_lowercase();
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (root, key, kind) = match lower.as_str() {
            "file" => {
                let p = rest.strip_prefix("localhost").unwrap_or(rest);
                if !p.starts_with('/') {
                    return Err(format!("{arg}: a file URL takes an absolute path (file:///dir/file)"));
                }
                return Ok(local(p));
            }
            "s3" | "s3a" => (format!("{scheme}://{host}"), path, Kind::S3),
            "az" | "azure" | "abfs" | "abfss" => (format!("{scheme}://{host}"), path, Kind::Azure),
            "http" | "https" => {
                let h = host.split(':').next().unwrap_or("").to_ascii_lowercase();
                let azure = h.ends_with(".blob.core.windows.net");
                // Path-style forms name the bucket or container first.
                let path_style = azure
                    || h.strip_suffix(".amazonaws.com")
                        .is_some_and(|b| b == "s3" || b.starts_with("s3.") || b.starts_with("s3-"));
                let kind = if azure { Kind::Azure } else { Kind::S3 };
                if path_style {
                    let (first, key) = path.split_once('/').unwrap_or((path, ""));
                    (format!("{scheme}://{host}/{first}"), key, kind)
                } else {
                    (format!("{scheme}://{host}"), path, kind)
                }
            }
            _ => (format!("{scheme}://{host}"), path, Kind::S3), // blobio::open names the problem
        };
        Ok(Loc { store: root, key: key.to_owned(), kind, dir: path.is_empty() || path.ends_with('/') })
    }

    pub fn is_local(&self) -> bool {
        self.kind == Kind::Local
    }

    /// The key as a prefix of a "folder": empty, or ending with `/`.
    pub fn dir_prefix(&self) -> String {
        dirify(&self.key)
    }

    /// How to show `key` of this store to the user.
    pub fn show(&self, key: &str) -> String {
        if self.is_local() {
            if key.is_empty() {
                return self.store.clone();
            }
            if self.store == "." {
                return key.to_owned();
            }
            let root = self.store.trim_end_matches('/');
            return format!("{root}/{key}");
        }
        format!("{}/{key}", self.store)
    }

    /// This argument as given, for messages.
    pub fn shown(&self) -> String {
        self.show(&self.key)
    }

    /// The last component of the key (for `cp x DIR/`).
    pub fn name(&self) -> &str {
        self.key.trim_end_matches('/').rsplit('/').next().unwrap_or("")
    }
}

pub fn dirify(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        key.to_owned()
    } else {
        format!("{key}/")
    }
}

/// Joins a folder prefix and a relative key.
pub fn join(prefix: &str, rel: &str) -> String {
    format!("{}{rel}", dirify(prefix))
}

fn local(path: &str) -> Loc {
    let p = Path::new(path);
    if path.ends_with('/') || p.is_dir() {
        return Loc { store: path.to_owned(), key: String::new(), kind: Kind::Local, dir: true };
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_string_lossy().into_owned(),
        _ => ".".to_owned(),
    };
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Loc { store: parent, key: name, kind: Kind::Local, dir: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_store_and_key() {
        let l = Loc::parse("s3://b/a/b.txt").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str(), l.dir), ("s3://b", "a/b.txt", false));
        let l = Loc::parse("az://c").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str(), l.dir), ("az://c", "", true));
        let l = Loc::parse("https://acct.blob.core.windows.net/cont/x/y").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str(), l.kind), ("https://acct.blob.core.windows.net/cont", "x/y", Kind::Azure));
        let l = Loc::parse("https://s3.eu-west-1.amazonaws.com/bkt/k").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str()), ("https://s3.eu-west-1.amazonaws.com/bkt", "k"));
        let l = Loc::parse("https://bkt.s3.eu-west-1.amazonaws.com/k/").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str(), l.dir), ("https://bkt.s3.eu-west-1.amazonaws.com", "k/", true));
        assert_eq!(l.show("k/z"), "https://bkt.s3.eu-west-1.amazonaws.com/k/z");
    }

    #[test]
    fn plain_paths_are_folder_and_name() {
        let l = Loc::parse("some/where/file.txt").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str(), l.kind), ("some/where", "file.txt", Kind::Local));
        assert_eq!(l.shown(), "some/where/file.txt");
        let l = Loc::parse("file.txt").unwrap();
        assert_eq!((l.store.as_str(), l.key.as_str()), (".", "file.txt"));
        assert_eq!(l.shown(), "file.txt");
        let l = Loc::parse("/").unwrap();
        assert!(l.dir && l.key.is_empty());
        assert_eq!(l.show("x"), "/x");
        assert_eq!(join("a", "b"), "a/b");
        assert_eq!(join("", "b"), "b");
    }
}
