//! Where a key path written in a manifest points: joined to the absolute directory of the file
//! that names it, so that the same manifest names the same key file from any working directory,
//! and kept inside the repository the manifest belongs to. Loading, `keys list` and
//! `keys rotate` all resolve key paths here.

use std::path::{Component, Path, PathBuf};

/// The directory key files must stay inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// Absolute, with symbolic links resolved.
    pub root: PathBuf,
    /// What `root` is, for messages: "the repository" or "the manifest's directory".
    pub what: &'static str,
}

impl Boundary {
    /// The boundary of the manifest whose first file (the one with `version`) is `manifest`:
    /// the Git work tree holding it (the nearest ancestor with a `.git`), else its directory.
    pub fn of_manifest(manifest: &Path) -> Self {
        let dir = absolute_dir(manifest);
        match repository_root(&dir) {
            Some(root) => Self {
                root,
                what: "the repository",
            },
            None => Self {
                root: dir,
                what: "the manifest's directory",
            },
        }
    }
}

/// The Git work tree holding `dir` (the nearest ancestor with a `.git` directory or file), if any.
pub fn repository_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|candidate| candidate.join(".git").exists())
        .map(Path::to_path_buf)
}

/// A key path resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    /// The file to read.
    pub absolute: PathBuf,
    /// How the key file is named in the loaded manifest, plans and messages: relative to the
    /// boundary's root with `/` separators, the same from any working directory and checkout.
    pub shown: String,
}

/// Why a key path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPathError {
    /// It leads outside the boundary (lexically, or through a symbolic link).
    Outside { resolved: PathBuf },
    /// Nothing is there.
    Missing,
    /// Something is there, but not a regular file: a directory, a FIFO, a device, a socket.
    NotAFile { kind: &'static str },
    /// A regular file without content.
    Empty,
}

/// Resolves `written` (as written in `declared_in`, a manifest file) within `boundary`.
pub fn resolve(
    written: &str,
    declared_in: &Path,
    boundary: &Boundary,
) -> Result<KeyPath, (KeyPathError, Option<KeyPath>)> {
    resolve_in(written, &absolute_dir(declared_in), boundary)
}

/// [`resolve`] with the absolute directory of the declaring file (see [`absolute_dir`]) already
/// known: a manifest names many keys from few files.
pub fn resolve_in(
    written: &str,
    dir: &Path,
    boundary: &Boundary,
) -> Result<KeyPath, (KeyPathError, Option<KeyPath>)> {
    let joined = normalize(&dir.join(written));
    // Asking what is there opens nothing: a FIFO or `/dev/zero` is named, never read.
    let metadata = std::fs::metadata(&joined).ok();
    if let Some(m) = &metadata
        && !m.is_file()
    {
        let kind = file_kind(m);
        return Err((KeyPathError::NotAFile { kind }, None));
    }
    let Ok(inside) = joined.strip_prefix(&boundary.root) else {
        return Err((KeyPathError::Outside { resolved: joined }, None));
    };
    let key = KeyPath {
        shown: inside
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        absolute: joined.clone(),
    };
    let Some(metadata) = metadata else {
        return Err((KeyPathError::Missing, Some(key)));
    };
    // A link inside the repository may still point out of it.
    if let Ok(real) = joined.canonicalize()
        && !real.starts_with(&boundary.root)
    {
        return Err((KeyPathError::Outside { resolved: real }, Some(key)));
    }
    if metadata.len() == 0 {
        return Err((KeyPathError::Empty, Some(key)));
    }
    Ok(key)
}

impl KeyPathError {
    /// The message for a key path as written (`written`) that cannot be used.
    pub fn message(&self, written: &str, boundary: &Boundary) -> String {
        match self {
            Self::Outside { resolved } => format!(
                "key path `{written}` leads outside {} ({}): it resolves to {}",
                boundary.what,
                boundary.root.display(),
                resolved.display()
            ),
            Self::Missing => format!("key file `{written}` does not exist"),
            Self::NotAFile { kind } => {
                format!("key path `{written}` is {kind}, not a regular file")
            }
            Self::Empty => format!("key file `{written}` is empty"),
        }
    }

    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            Self::Outside { .. } => {
                "keep public key files in the manifest's repository (e.g. a `keys/` directory beside it); key paths are relative to the manifest file that names them"
            }
            Self::Missing => {
                "key paths are relative to the manifest file that names them; check the path, or create the key with `mpctl keys rotate`"
            }
            Self::NotAFile { .. } => "name the public key file itself (a JWK, JWKS or PEM file)",
            Self::Empty => {
                "write the public key into the file (a JWK, JWKS or PEM), or create one with `mpctl keys rotate`"
            }
        }
    }

    /// The label at the key path.
    pub fn label(&self, boundary: &Boundary) -> String {
        match self {
            Self::Outside { .. } => format!("outside {}", boundary.what),
            Self::Missing => "no such file".into(),
            Self::NotAFile { .. } => "not a file".into(),
            Self::Empty => "empty file".into(),
        }
    }
}

fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = metadata.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The absolute directory of `file`, with symbolic links resolved where it exists.
pub fn absolute_dir(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir).map(|d| normalize(&d)))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// Lexically normalises an absolute path: drops `.`, folds `dir/..` (never above the root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Boundary) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sub/deeper/keys")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("keys")).expect("mkdir");
        std::fs::write(dir.path().join("keys/k.jwk.json"), "{}").expect("write");
        std::fs::write(dir.path().join("keys/empty.json"), "").expect("write");
        std::fs::write(dir.path().join("m.yaml"), "version: 1").expect("write");
        let boundary = Boundary::of_manifest(&dir.path().join("m.yaml"));
        (dir, boundary)
    }

    #[test]
    fn paths_join_the_directory_of_the_file_that_names_them() {
        let (dir, boundary) = tree();
        let part = dir.path().join("sub/deeper/m.yaml");
        let key = resolve("../../keys/k.jwk.json", &part, &boundary).expect("resolves");
        assert_eq!(key.shown, "keys/k.jwk.json");
        assert_eq!(
            key.absolute,
            boundary.root.join("keys").join("k.jwk.json"),
            "absolute"
        );
    }

    #[test]
    fn paths_leaving_the_boundary_are_refused_with_where_they_lead() {
        let (dir, boundary) = tree();
        let part = dir.path().join("sub/deeper/m.yaml");
        let (error, _) = resolve("../../../etc/passwd", &part, &boundary).expect_err("outside");
        let KeyPathError::Outside { resolved } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(
            resolved,
            &boundary.root.parent().expect("parent").join("etc/passwd")
        );
        assert!(
            error
                .message("../../../etc/passwd", &boundary)
                .contains("leads outside the manifest's directory")
        );
        let (error, _) = resolve("/etc/hostname", &part, &boundary).expect_err("absolute");
        assert!(matches!(error, KeyPathError::Outside { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_boundary_are_refused() {
        let (dir, boundary) = tree();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("k.pem"), "x").expect("write");
        std::os::unix::fs::symlink(outside.path().join("k.pem"), dir.path().join("keys/l.pem"))
            .expect("symlink");
        let (error, _) =
            resolve("keys/l.pem", &dir.path().join("m.yaml"), &boundary).expect_err("link");
        assert!(matches!(error, KeyPathError::Outside { .. }), "{error:?}");
    }

    #[test]
    fn directories_empty_files_and_missing_files_are_told_apart() {
        let (dir, boundary) = tree();
        let m = dir.path().join("m.yaml");
        let kind = |p: &str| resolve(p, &m, &boundary).expect_err("refused").0;
        assert_eq!(
            kind("keys"),
            KeyPathError::NotAFile {
                kind: "a directory"
            }
        );
        assert_eq!(kind("keys/empty.json"), KeyPathError::Empty);
        assert_eq!(kind("keys/none.json"), KeyPathError::Missing);
        #[cfg(unix)]
        assert_eq!(
            kind("/dev/zero"),
            KeyPathError::NotAFile { kind: "a device" }
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_named_as_such_and_never_opened() {
        let (dir, boundary) = tree();
        let fifo = dir.path().join("keys/fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (error, _) = resolve("keys/fifo", &dir.path().join("m.yaml"), &boundary).expect_err("");
        assert_eq!(
            error,
            KeyPathError::NotAFile {
                kind: "a FIFO (named pipe)"
            }
        );
    }
}
