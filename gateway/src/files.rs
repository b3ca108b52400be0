//! Files that hold secrets (the database and its `-wal`/`-shm`, key files, the storage key file,
//! the lock file): created 0600, refused when readable by group or others or owned by another
//! user; and the exclusive lock that makes one process the only owner of a database.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Make every file this process creates from now on private (umask 077). The CLI calls this
/// first; the files below are also created 0600 explicitly, whatever the umask.
pub fn private_umask() {
    #[cfg(unix)]
    {
        let _ = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

fn quoted(p: &Path) -> String {
    let s = p.display().to_string();
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Refuse `path` (described as `what`) if it is readable or writable by group or others, or owned
/// by another user than the one running this process. A missing file is fine.
pub fn check_private(path: &Path, what: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("{what} {}", path.display())),
        };
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            bail!(
                "{what} {} is owned by uid {}, not by uid {me} which runs scv2: another user \
                 could read or replace it; fix: chown {me} {}",
                path.display(),
                meta.uid(),
                quoted(path)
            );
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{what} {} has mode {mode:04o}: readable by group or others; fix: chmod 600 {}",
                path.display(),
                quoted(path)
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, what);
    }
    Ok(())
}

/// Create `path` empty with mode 0600 if it does not exist (so that whatever opens it later,
/// SQLite included, finds a private file and gives its companions the same mode).
pub fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// The companions SQLite creates beside a database in WAL mode.
pub fn sqlite_companions(db: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [with("-wal"), with("-shm")]
}

/// The lock file of a database: `DB.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// An exclusive lock on a database, held for as long as this value lives (the process
/// lifetime for `scv2 serve`). The lock file holds the owner's pid, for the error of the next one.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
    path: PathBuf,
}

impl DbLock {
    /// Take the lock of `db`, waiting up to `wait` for it to be released (an owner that is
    /// restarting, or a forked child that still holds a copy of the descriptor until it execs);
    /// then fail, naming the file and the process that holds it.
    pub fn acquire_within(db: &Path, wait: std::time::Duration) -> anyhow::Result<DbLock> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match DbLock::acquire(db) {
                Ok(l) => return Ok(l),
                Err(e)
                    if std::time::Instant::now() < deadline
                        && e.to_string().contains("already in use") =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Take the lock of `db` or fail at once, naming the file and the process that holds it.
    pub fn acquire(db: &Path) -> anyhow::Result<DbLock> {
        let path = lock_path(db);
        check_private(&path, "lock file")?;
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        check_private(&path, "lock file")?;
        #[cfg(unix)]
        {
            use rustix::fs::{flock, FlockOperation};
            if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = holder
                    .strip_prefix("pid ")
                    .and_then(|p| p.split_whitespace().next())
                    .map(|p| format!("process {p}"))
                    .unwrap_or_else(|| "another process".to_owned());
                if e == rustix::io::Errno::WOULDBLOCK {
                    bail!(
                        "database {} is already in use by {who} (it holds the lock file {}); \
                         one scv2 serve owns a SQLite database: stop it, or give this one \
                         another --db",
                        db.display(),
                        path.display()
                    );
                }
                bail!("locking {}: {e}", path.display());
            }
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "pid {}", std::process::id())?;
        file.sync_all()?;
        Ok(DbLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_locks() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("scv2-files-{}", crate::util::new_token()?));
        std::fs::create_dir_all(&dir)?;
        let f = dir.join("x.db");
        create_private(&f)?;
        check_private(&f, "database")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640))?;
            let e = check_private(&f, "database").err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains("mode 0640")
                    && e.contains(&format!("chmod 600 {}", f.display()))),
                "{e:?}"
            );
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))?;
        }
        let lock = DbLock::acquire(&f)?;
        let second = DbLock::acquire(&f).err().map(|e| e.to_string());
        assert!(
            second
                .as_deref()
                .is_some_and(|e| e.contains(&format!("process {}", std::process::id()))),
            "{second:?}"
        );
        drop(lock);
        let again = DbLock::acquire(&f)?;
        assert_eq!(again.path(), lock_path(&f));
        drop(again);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
