//! Opening the store of a device in a big team: the seeded caseload (250 patients) and a
//! team of 20, then 1,000 devices, whose membership log a pull brought in pages of 500 as
//! it would from the relay. Each open loads every team's verified membership; the figure is
//! `Store::open` and listing the caseload, p50 / p99 / max over many opens. Also the
//! cost of one more membership entry pulled into the big team (what keeping the folded
//! state costs each time the team changes).
//!
//! The log is signed here with the protocol crate, entry by entry, the way the team's
//! devices would have signed it: an admin's genesis, invites (link workers, two
//! supervisors, a patient in twenty with their plan) each redeemed by a new device, a
//! cancelled invite now and then, and a revocation (a new key epoch) every 200 devices.
//! This device joins early, through its own invite and redeem.
//!
//! `cargo bench -p holdfast-core --bench open_team` (the quick pass, without `--bench`,
//! opens a small team and checks what the open folded against a full fold of the log).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use holdfast_core::model::ids::{DeviceId, DocumentId, TeamId};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::CaseloadFilter;
use holdfast_core::{KeyStore, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::{
    DeviceSigningKey, Entry, EpochKey, HpkeKeyPair, HpkePublicKey, InviteCode, Membership, Op,
    Role, SystemRandom, epoch_key_commitment, redeem_proof_message,
};

type Failure = Box<dyn std::error::Error>;

const RELAY: &str = "https://relay.invalid";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The team's admin, on a device elsewhere: it signs genesis, invites and revocations.
struct Admin {
    rng: SystemRandom,
    team: TeamId,
    id: DeviceId,
    key: DeviceSigningKey,
    epoch: u32,
    log: Vec<Vec<u8>>,
    active: Vec<DeviceId>,
}

impl Admin {
    fn found() -> Result<Admin, Failure> {
        let rng = SystemRandom::new();
        let team = TeamId::random_with(&rng)?;
        let id = DeviceId::random_with(&rng)?;
        let key = DeviceSigningKey::generate(&rng)?;
        let hpke = HpkeKeyPair::generate(&rng)?;
        let op = Op::Genesis {
            device: id,
            sign_key: key.public_key(),
            hpke_key: hpke.public_key().clone(),
            key_commitment: epoch_key_commitment(&team, 1, &EpochKey::generate(&rng)?),
        };
        let genesis = Entry::sign(team, now_ms(), id.0, op, &key)?;
        Ok(Admin {
            rng,
            team,
            id,
            key,
            epoch: 1,
            log: vec![genesis.as_bytes().to_vec()],
            active: vec![id],
        })
    }

    fn sign(&mut self, op: Op) -> Result<Vec<u8>, Failure> {
        let entry = Entry::sign(self.team, now_ms(), self.id.0, op, &self.key)?;
        self.log.push(entry.as_bytes().to_vec());
        Ok(entry.as_bytes().to_vec())
    }

    /// An invite for `role`, logged; its code and entry.
    fn invite(&mut self, role: Role) -> Result<(InviteCode, Vec<u8>), Failure> {
        let plan = (role == Role::Patient)
            .then(|| DocumentId::random_with(&self.rng))
            .transpose()?;
        let anchor = Entry::decode(&self.log[0])?.anchor();
        let code = InviteCode::generate(
            &self.rng,
            RELAY,
            self.team,
            anchor,
            role,
            plan,
            now_ms() + 86_400_000,
        )?;
        let entry = self.sign(Op::Invite {
            invite: code.id(),
            sign_key: code.signing_key()?.public_key(),
            hpke_key: code.hpke_key()?.public_key().clone(),
            role,
            plan,
            expires_at_ms: code.expires_at_ms,
        })?;
        Ok((code, entry))
    }

    /// A new device (made up here) redeems `code`.
    fn redeem(&mut self, code: &InviteCode) -> Result<(), Failure> {
        let device = DeviceId::random_with(&self.rng)?;
        let key = DeviceSigningKey::generate(&self.rng)?;
        let hpke = HpkeKeyPair::generate(&self.rng)?;
        let invite = code.id();
        let hpke_key = hpke.public_key().clone();
        let proof =
            redeem_proof_message(&self.team, &invite, &device, &key.public_key(), &hpke_key);
        let op = Op::Redeem {
            invite,
            device,
            sign_key: key.public_key(),
            hpke_key,
            device_signature: key.sign(&proof),
        };
        let entry = Entry::sign(self.team, now_ms(), invite.0, op, &code.signing_key()?)?;
        self.log.push(entry.as_bytes().to_vec());
        if code.role != Role::Admin {
            self.active.push(device);
        }
        Ok(())
    }

    /// Revokes the active device at `index` (never the admin itself): the next epoch.
    fn revoke(&mut self, index: usize) -> Result<(), Failure> {
        let device = self.active.remove(index.clamp(1, self.active.len() - 1));
        self.epoch += 1;
        let commitment =
            epoch_key_commitment(&self.team, self.epoch, &EpochKey::generate(&self.rng)?);
        self.sign(Op::Revoke {
            device,
            epoch: self.epoch,
            key_commitment: commitment,
        })?;
        Ok(())
    }
}

/// A store with the seeded caseload whose device is a link worker in a team of `devices`
/// (the admin, this device and the others), every entry pulled and stored.
fn store_in_team(
    devices: usize,
    patients: usize,
) -> Result<(tempfile::TempDir, MemoryKeyStore, StoreConfig, Admin), Failure> {
    let dir = tempfile::tempdir()?;
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "Bench Worker");
    let mut store = Store::create(&config, &keys)?;
    seed::populate(
        &mut store,
        &SeedConfig {
            patients,
            assets: 100,
            ..SeedConfig::default()
        },
    )?;
    let mut admin = Admin::found()?;
    let team = admin.team;
    // This device joins third, after a supervisor.
    let (code, _) = admin.invite(Role::Supervisor)?;
    admin.redeem(&code)?;
    let (code, invite) = admin.invite(Role::LinkWorker)?;
    let redeemed = store.prepare_redeem(&code, &invite, &admin.log[0])?;
    store.join_team(&keys as &dyn KeyStore, &code, &redeemed)?;
    admin.log.push(redeemed.entry.clone());
    let mut enrolled = 3;
    while enrolled < devices {
        let role = match enrolled {
            n if n % 20 == 7 => Role::Patient,
            n if n == devices / 2 => Role::Supervisor,
            _ => Role::LinkWorker,
        };
        let (code, _) = admin.invite(role)?;
        admin.redeem(&code)?;
        enrolled += 1;
        if enrolled % 50 == 0 {
            // An invite shown to the wrong person, cancelled.
            let (code, _) = admin.invite(Role::LinkWorker)?;
            admin.sign(Op::Cancel { invite: code.id() })?;
        }
        if enrolled % 200 == 0 {
            let at = enrolled / 3;
            admin.revoke(at)?;
        }
    }
    pull_all(&mut store, team, &admin.log, 1)?;
    Ok((dir, keys, config, admin))
}

/// Applies the log from `from` as the sync client would: pages of 500 entries.
fn pull_all(store: &mut Store, team: TeamId, log: &[Vec<u8>], from: usize) -> Result<(), Failure> {
    let entries: Vec<(u64, Vec<u8>)> = log
        .iter()
        .enumerate()
        .skip(from)
        .map(|(seq, bytes)| (seq as u64, bytes.clone()))
        .collect();
    for page in entries.chunks(500) {
        let end = page.last().map(|(seq, _)| seq + 1).unwrap_or(0);
        store.apply_membership(team, page, end)?;
    }
    Ok(())
}

struct Figures {
    p50: f64,
    p99: f64,
    max: f64,
}

fn timed(runs: usize, mut f: impl FnMut() -> Result<(), Failure>) -> Result<Figures, Failure> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok(Figures {
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
    })
}

/// Opens the store `runs` times (and lists the caseload); checks that the open took the
/// kept fold, verified nothing, and came to what a full fold of the stored log does. Then
/// pulls `appends` more entries one at a time (an invite each), timing each.
fn measure(devices: usize, patients: usize, runs: usize, appends: usize) -> Result<(), Failure> {
    let t = Instant::now();
    let (_dir, keys, config, mut admin) = store_in_team(devices, patients)?;
    let team = admin.team;
    let built = t.elapsed().as_secs_f64();
    let mut store = Store::open(&config, &keys)?;
    let log = store.membership_log(team)?;
    let full = Membership::from_log(team, log.iter().map(|(_, b)| b.as_slice()))?;
    let access = store.access(team)?;
    assert_eq!(access.membership, full, "the open's fold is the log's");
    assert_eq!(access.membership.devices.len(), devices);
    let how = access.folded_at_open();
    assert_eq!(
        (how.kept, how.verified),
        (log.len() as u64, 0),
        "the open took the kept fold and verified nothing"
    );
    let revoked = full.devices.values().filter(|m| !m.is_active()).count();
    assert_eq!(access.revoked_in.len(), revoked);
    drop(store);
    let figures = timed(runs, || {
        let store = Store::open(&config, &keys)?;
        let list = store.caseload(&CaseloadFilter::default())?;
        assert!(!list.is_empty());
        std::hint::black_box(list);
        Ok(())
    })?;
    println!(
        "open + list the caseload, team of {devices} devices ({} entries, {revoked} revoked, {patients} patients), {runs} opens: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (built in {built:.1} s)",
        log.len(),
        figures.p50,
        figures.p99,
        figures.max
    );
    // Where the open's time goes: decoding the kept fold, of which checking each HPKE key
    // is a valid X-Wing key (as every decode of one does).
    let kept = full.to_snapshot();
    let decode = timed(runs, || {
        std::hint::black_box(Membership::from_snapshot(&kept)?);
        Ok(())
    })?;
    let keys_held: Vec<&[u8]> = full
        .devices
        .values()
        .map(|m| m.hpke_key.as_bytes())
        .chain(full.invites.values().map(|i| i.hpke_key.as_bytes()))
        .collect();
    let check = timed(runs, || {
        for k in &keys_held {
            std::hint::black_box(HpkePublicKey::from_bytes(k)?);
        }
        Ok(())
    })?;
    println!(
        "  of which: decoding the kept fold ({} KiB) p50 {:.2} ms; checking its {} X-Wing keys p50 {:.2} ms",
        kept.len() / 1024,
        decode.p50,
        keys_held.len(),
        check.p50
    );
    store = Store::open(&config, &keys)?;
    let first = admin.log.len();
    for _ in 0..appends {
        admin.invite(Role::LinkWorker)?;
    }
    let mut next = first;
    let appended = timed(appends, || {
        pull_all(&mut store, team, &admin.log[..=next], next)?;
        next += 1;
        Ok(())
    })?;
    println!(
        "one more entry pulled into the team of {devices} (verify, store; the fold kept again every 32; durable), {appends} times: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        appended.p50, appended.p99, appended.max
    );
    Ok(())
}

fn main() -> Result<(), Failure> {
    let full = std::env::args().any(|a| a == "--bench");
    if full {
        measure(20, 250, 50, 40)?;
        measure(1_000, 250, 50, 40)?;
    } else {
        measure(20, 10, 3, 2)?;
    }
    Ok(())
}
