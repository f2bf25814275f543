//! A small disk of a test's own, for the full-disk tests of the relay, the device and the
//! FFI: a tmpfs with a size, mounted on a temporary folder (the tests run as root), filled
//! with a filler file, and given back by deleting it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a fixed size mounted on a temporary folder of this test's own (tests run in
/// parallel: each has its own mount point). Unmounted when dropped, also when the test
/// panics: declare it before whatever keeps files open on it, so that those go first.
#[derive(Debug)]
pub struct SmallDisk {
    /// The mount point; removed (empty again) after the unmount.
    mount: tempfile::TempDir,
    /// The filler file, while there is one.
    filler: Option<PathBuf>,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`mount`'s syntax: `8m`). Fails the test, saying why, if it
    /// cannot: these tests need root (or CAP_SYS_ADMIN) and are not skipped without it.
    pub fn mount(size: &str) -> SmallDisk {
        let mount = tempfile::tempdir().expect("a temporary folder to mount on");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(mount.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount(8) for the small disk: {e}"));
        assert!(
            out.status.success(),
            "mounting a {size} tmpfs on {} failed ({}): the disk-full tests need root or \
             CAP_SYS_ADMIN to mount a small file system of their own: {}",
            mount.path().display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallDisk {
            mount,
            filler: None,
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fills the disk to the last byte with a filler file, then gives `leave` bytes back.
    pub fn fill_leaving(&mut self, leave: u64) {
        let path = self.path().join("filler");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("the filler file");
        // Big writes, then ever smaller ones: tmpfs hands out whole pages.
        for chunk in [1 << 20, 64 << 10, 4 << 10, 512, 1] {
            let bytes = vec![0xA5u8; chunk];
            loop {
                match file.write(&bytes) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("writing the filler: {e}"),
                }
            }
        }
        let len = file.metadata().expect("the filler's length").len();
        file.set_len(len.saturating_sub(leave))
            .expect("the filler shortened");
        file.sync_all().expect("the filler synced");
        self.filler = Some(path);
    }

    /// Fills the disk to the last byte.
    pub fn fill(&mut self) {
        self.fill_leaving(0);
    }

    /// Gives the space back: deletes the filler.
    pub fn make_room(&mut self) {
        if let Some(path) = self.filler.take() {
            std::fs::remove_file(path).expect("the filler deleted");
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmount = |lazy: bool| {
            let mut command = Command::new("umount");
            if lazy {
                command.arg("-l");
            }
            command
                .arg(self.mount.path())
                .status()
                .is_ok_and(|s| s.success())
        };
        // Lazily if something still holds a file open (a test that panicked midway).
        if !unmount(false) && !unmount(true) {
            eprintln!("could not unmount {}", self.mount.path().display());
        }
    }
}
