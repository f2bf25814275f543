"""The home visit in small through uniffi's Python bindings: what an operator's script sees.

Run by mobile-bindings/tests/python/run.sh: `python3 test_home_visit.py BINDINGS_DIR RELAY_URL`,
where BINDINGS_DIR holds holdfast_ffi.py next to libholdfast_ffi.so (the module loads the
library only from its own folder).
"""

import sys
import tempfile
import threading
import time


def main(bindings_dir, relay):
    sys.path.insert(0, bindings_dir)
    import holdfast_ffi as hf

    class MemoryKeyStore(hf.HostKeyStore):
        def __init__(self):
            self.secrets = {}

        def get(self, name):
            return self.secrets.get(name)

        def put(self, name, value):
            self.secrets[name] = bytes(value)

    class Sink(hf.LogSink):
        def __init__(self):
            self.lines = []

        def log(self, level, target, message):
            self.lines.append(f"{level} {target} {message}")

    class Caseload(hf.CaseloadObserver):
        def __init__(self):
            self.fired = threading.Event()

        def caseload_changed(self):
            self.fired.set()

    dirs = []

    def open_device(person):
        d = tempfile.TemporaryDirectory(prefix="holdfast-python-")
        dirs.append(d)
        return hf.HoldfastDevice.open(hf.DeviceConfig(data_dir=d.name, person=person), MemoryKeyStore())

    def sync(device, who):
        outcomes = device.sync_now(None)
        assert outcomes, f"{who}: no team synced"
        for o in outcomes:
            assert o.error is None, f"{who}: sync failed: {o.error}"

    sink = Sink()
    hf.init_logging(hf.LogLevel.DEBUG, sink)

    print("- a team, a second link worker, a case, the patient's phone")
    a = open_device("Sam Okafor")
    a.create_team(relay)
    b = open_device("Priya Natarajan")
    invite = a.create_invite(None, hf.Role.LINK_WORKER, 15)
    assert b.redeem_invite(invite).role == hf.Role.LINK_WORKER
    case = a.create_case(hf.NewPatientInput(
        name="Ada Lovelace", nhs_number="943 476 5919", postcode="LS6 2AB", practice=None, phone=None))
    sync(a, "A")
    p = open_device("Ada (patient)")
    enrolled = p.redeem_invite(a.share_plan(case.plan_id, 15))
    assert enrolled.role == hf.Role.PATIENT and enrolled.plan_id == case.plan_id

    print("- an offline home visit on B, then sync")
    sync(b, "B")
    b.record_session(case.case_id, hf.SessionInput(
        start_ms=int(time.time() * 1000), duration_minutes=45, mode=hf.SessionMode.HOME_VISIT,
        attended=True, note="Talked about the allotment", follow_up=None))
    step = b.add_step(case.plan_id, "Go to the Tuesday walking group", hf.StepOwner.PATIENT, None)
    assert b.sync_status(None).pending_changes > 0
    observer = Caseload()
    handle = a.observe_caseload(observer)
    sync(b, "B")
    sync(a, "A")
    assert a.case_file(case.case_id) == b.case_file(case.case_id), "A and B differ on the case"
    assert a.action_plan(case.plan_id) == b.action_plan(case.plan_id), "A and B differ on the plan"
    assert len(a.case_file(case.case_id).sessions) == 1
    assert observer.fired.wait(10), "the caseload observer did not fire"
    handle.cancel()

    print("- the patient ticks the step off; scoping holds")
    sync(p, "P")
    p.set_step_done(case.plan_id, step, True)
    sync(p, "P")
    sync(a, "A")
    assert [s.done for s in a.action_plan(case.plan_id).steps if s.step_id == step] == [True]
    assert p.caseload(None) == []
    try:
        p.case_file(case.case_id)
        raise AssertionError("the patient's phone read the case file")
    except (hf.HoldfastError.NotFound, hf.HoldfastError.NotAllowed):
        pass

    print("- errors and panics")
    try:
        open_device("Someone").redeem_invite("HF1-garbage")
        raise AssertionError("a garbage invite was accepted")
    except hf.HoldfastError.InviteRefused as e:
        assert str(e).strip(), "InviteRefused without a message"
    # Plain http only to this computer: a relay on another host is refused before any request.
    try:
        open_device("Someone").create_team("http://relay.example.invalid:7878")
        raise AssertionError("a plain-http relay on another host was accepted")
    except hf.HoldfastError.InvalidInput as e:
        assert "this computer" in str(e), e
    if hasattr(a, "debug_panic"):
        try:
            a.debug_panic()
            raise AssertionError("debug_panic returned")
        except hf.InternalError:
            pass
        assert len(a.caseload(None)) == 1, "the device is unusable after a panic"
    else:
        print("  (no test-hooks in this build: panic check skipped)")

    assert any("holdfast_" in line for line in sink.lines), "no Holdfast log line"
    assert not [line for line in sink.lines if "Lovelace" in line or "allotment" in line], "patient data in the log"
    for d in (a, b, p):
        d.stop_sync()
    print("python binding test: all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_home_visit.py BINDINGS_DIR RELAY_URL")
    main(sys.argv[1], sys.argv[2])
