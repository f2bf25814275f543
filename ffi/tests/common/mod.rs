//! What every mobile API test needs: a host key store in memory and a device in a folder
//! of its own; and, for the disk-full test, a small disk (`holdfast_relay::testing::SmallDisk`).

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use holdfast_ffi::{DeviceConfig, HoldfastDevice, HoldfastError, HostKeyStore};

/// The host's key store, in memory.
#[derive(Default)]
pub struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

impl HostKeyStore for MemoryKeys {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, HoldfastError> {
        Ok(self.0.lock().unwrap().get(&name).cloned())
    }

    fn put(&self, name: String, value: Vec<u8>) -> Result<(), HoldfastError> {
        self.0.lock().unwrap().insert(name, value);
        Ok(())
    }
}

/// A device with its own folder (dropped before the folder).
pub struct Phone {
    device: Arc<HoldfastDevice>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Phone {
    type Target = HoldfastDevice;

    fn deref(&self) -> &HoldfastDevice {
        &self.device
    }
}

/// Opens a device for `person` in a new temporary folder.
pub fn phone(person: &str) -> Phone {
    phone_in_folder(person, tempfile::tempdir().unwrap())
}

/// Opens a device for `person` in a new folder inside `parent` (a small disk, say).
pub fn phone_in(person: &str, parent: &Path) -> Phone {
    phone_in_folder(person, tempfile::tempdir_in(parent).unwrap())
}

fn phone_in_folder(person: &str, dir: tempfile::TempDir) -> Phone {
    let device = HoldfastDevice::open(
        DeviceConfig {
            data_dir: dir.path().display().to_string(),
            person: person.into(),
            insecure_http_to_any_host: false,
        },
        Arc::new(MemoryKeys::default()),
    )
    .unwrap();
    Phone { device, _dir: dir }
}

/// Syncs every team of `device` and fails the test on any error.
pub fn sync(device: &HoldfastDevice) {
    for outcome in device.sync_now(None).unwrap() {
        assert_eq!(outcome.error, None, "sync of {}", outcome.team_id);
    }
}
