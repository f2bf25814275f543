// The home visit through the real Kotlin bindings and the real library, against a real relay.
// Run by mobile-bindings/tests/kotlin/run.sh: `java ... HomeVisitTestKt RELAY_URL`.
// A plain `main`: every check throws on failure and the process exits non-zero.

import java.nio.file.Files
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.TimeZone
import java.util.concurrent.CountDownLatch
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess
import uniffi.holdfast_ffi.*

/** The host's key store, in memory (a real app: Android Keystore / Keychain). */
class MemoryKeyStore : HostKeyStore {
    private val secrets = ConcurrentHashMap<String, ByteArray>()
    override fun get(name: String): ByteArray? = secrets[name]?.copyOf()
    override fun put(name: String, value: ByteArray) {
        secrets[name] = value.copyOf()
    }
}

/** Collects Holdfast's log lines (a real app: Logcat / os_log). */
class CollectingSink : LogSink {
    val lines = ConcurrentLinkedQueue<String>()
    override fun log(level: LogLevel, target: String, message: String) {
        lines.add("$level $target $message")
    }
}

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

fun <T> checkEq(expected: T, actual: T, what: String) =
    check(expected == actual) { "$what: expected $expected, got $actual" }

/** Runs [block], which must throw [E]; returns the exception. */
inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

fun step(name: String) = println("- $name")

const val PATIENT_NAME = "Ada Lovelace"
const val VISIT_NOTE = "Talked about the allotment; keen on the walking group"
const val PRIVATE_NOTE = "Feeling stretched thin since the new referrals started"
const val NOTE_RESPONSE = "Take Friday afternoon for catching up; we'll talk at supervision"

fun open(person: String): HoldfastDevice {
    val dir = Files.createTempDirectory("holdfast-kotlin-").toFile()
    dir.deleteOnExit()
    return HoldfastDevice.open(DeviceConfig(dataDir = dir.path, person = person), MemoryKeyStore())
}

fun syncOk(device: HoldfastDevice, who: String): List<SyncOutcome> {
    val outcomes = device.syncNow(null)
    check(outcomes.isNotEmpty()) { "$who: sync_now synced no team" }
    for (o in outcomes) check(o.error == null) { "$who: sync of ${o.teamId} failed: ${o.error}" }
    return outcomes
}

/** Takes delivered worklists until one is [wanted] (a sync may deliver a few on the way). */
fun awaitList(lists: LinkedBlockingQueue<List<WorkItem>>, what: String, wanted: (List<WorkItem>) -> Boolean): List<WorkItem> {
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
    while (true) {
        val left = deadline - System.nanoTime()
        val list = (if (left > 0) lists.poll(left, TimeUnit.NANOSECONDS) else null)
            ?: throw AssertionError("no worklist $what delivered within 10 s")
        if (wanted(list)) return list
    }
}

fun main(args: Array<String>) {
    val relay = args.getOrNull(0) ?: run {
        System.err.println("usage: HomeVisitTestKt RELAY_URL")
        exitProcess(2)
    }
    try {
        homeVisit(relay)
    } catch (e: Throwable) {
        System.err.println("FAILED: $e")
        e.printStackTrace()
        exitProcess(1)
    }
    println("kotlin binding test: all checks passed")
    // JNA and the devices' runtimes keep non-daemon threads: leave explicitly.
    exitProcess(0)
}

fun homeVisit(relay: String) {
    val sink = CollectingSink()
    initLogging(LogLevel.DEBUG, sink)
    expectThrows<HoldfastException.NotAllowed>("a second init_logging") {
        initLogging(LogLevel.INFO, CollectingSink())
    }

    step("an admin's device creates a team; a second link worker joins with an invite")
    val a = open("Sam Okafor")
    val team = a.createTeam(relay)
    checkEq(1, a.teams().size, "A's teams")
    val invite = a.createInvite(null, Role.LINK_WORKER, 15u)
    val b = open("Priya Natarajan")
    val enrolB = b.redeemInvite(invite)
    checkEq(team, enrolB.teamId, "B's team")
    checkEq(Role.LINK_WORKER, enrolB.role, "B's role")
    checkEq(null, enrolB.firstSyncError, "B's first sync")

    step("A opens a case and its plan, shares the plan with the patient's phone")
    val case = a.createCase(
        NewPatientInput(
            name = PATIENT_NAME,
            nhsNumber = "943 476 5919",
            postcode = "LS6 2AB",
            practice = "Chapel Allerton Medical Centre",
            phone = null,
        ),
    )
    a.setWhatMatters(case.planId, "Getting out of the house and seeing people")
    a.addStep(case.planId, "Ring the walk leader", StepOwner.PATIENT, "2026-12-01")
    syncOk(a, "A")
    val share = a.sharePlan(case.planId, 15u)
    val p = open("Ada (patient)")
    val enrolP = p.redeemInvite(share)
    checkEq(Role.PATIENT, enrolP.role, "P's role")
    checkEq(case.planId, enrolP.planId, "P's plan")

    step("B pulls the caseload, then records a home visit offline")
    syncOk(b, "B")
    checkEq(listOf(case.caseId), b.caseload(null).map { it.caseId }, "B's caseload")
    val visitStart = System.currentTimeMillis()
    val sessionId = b.recordSession(
        case.caseId,
        SessionInput(
            startMs = visitStart,
            durationMinutes = 50u,
            mode = SessionMode.HOME_VISIT,
            attended = true,
            note = VISIT_NOTE,
            followUp = "2026-12-05",
        ),
    )
    val stepId = b.addStep(case.planId, "Go to the Tuesday walking group", StepOwner.PATIENT, null)
    val pending = b.syncStatus(null)
    check(pending.pendingChanges > 0u) { "B should have changes pending, has ${pending.pendingChanges}" }
    check(!pending.everythingUploaded) { "B cannot have uploaded while offline" }

    step("back in signal: B syncs, A syncs; their views converge")
    syncOk(b, "B")
    check(b.syncStatus(null).everythingUploaded) { "B uploaded everything" }
    syncOk(a, "A")
    val caseA = a.caseFile(case.caseId)
    checkEq(listOf(sessionId), caseA.sessions.map { it.sessionId }, "A sees B's session")
    checkEq(listOf(VISIT_NOTE), caseA.sessions[0].noteVersions, "the visit note")
    checkEq(SessionMode.HOME_VISIT, caseA.sessions[0].mode, "the visit mode")
    checkEq(caseA, b.caseFile(case.caseId), "A and B: the same case file")
    val planA = a.actionPlan(case.planId)
    check(planA.steps.any { it.stepId == stepId }) { "A sees B's step: $planA" }
    checkEq(planA, b.actionPlan(case.planId), "A and B: the same plan")
    checkEq(1u, a.caseload(null).single().sessionCount, "A's caseload counts the session")

    step("the patient's phone sees the step, ticks it off and comments")
    syncOk(p, "P")
    val planP = p.actionPlan(case.planId)
    check(planP.steps.any { it.stepId == stepId && !it.done }) { "P sees B's step: $planP" }
    p.setStepDone(case.planId, stepId, true)
    p.addPlanComment(case.planId, "I rang them on Monday")
    syncOk(p, "P")
    syncOk(a, "A")
    syncOk(b, "B")
    val planAfter = a.actionPlan(case.planId)
    check(planAfter.steps.single { it.stepId == stepId }.done) { "A sees the step done" }
    check(planAfter.comments.any { it.text == "I rang them on Monday" }) { "A sees P's comment" }
    checkEq(planAfter, p.actionPlan(case.planId), "A and P: the same plan")
    checkEq(planAfter, b.actionPlan(case.planId), "A and B: the same plan")

    step("patient scoping: the patient's phone holds its plan and nothing else")
    val other = a.createCase(
        NewPatientInput(name = "Grace Hopper", nhsNumber = null, postcode = null, practice = null, phone = null),
    )
    syncOk(a, "A")
    val q = open("Grace (patient)")
    q.redeemInvite(a.sharePlan(other.planId, 15u))
    syncOk(p, "P")
    checkEq(emptyList<CaseloadRow>(), p.caseload(null), "P's caseload")
    val refused = expectThrows<HoldfastException>("P reads the case file") { p.caseFile(case.caseId) }
    check(refused is HoldfastException.NotFound || refused is HoldfastException.NotAllowed) {
        "P reading the case file: expected NotFound or NotAllowed, got $refused"
    }
    expectThrows<HoldfastException>("P reads another patient's plan") { p.actionPlan(other.planId) }
    // A patient device has no current team (it creates no documents): name the team.
    val plansP = p.devices(enrolP.teamId).mapNotNull { it.planId }.toSet()
    check(plansP.all { it == case.planId }) { "P's device list shows other plans: $plansP" }
    checkEq(2, a.caseload(null).size, "A's caseload")
    // The caseload in pages of one: walked to the end, the whole list in its order.
    val walked = mutableListOf<CaseloadRow>()
    var after: CaseloadRow? = null
    while (true) {
        val page = a.caseloadPage(CaseloadQuery(), 1u, after)
        if (page.isEmpty()) break
        walked += page
        after = page.last()
    }
    checkEq(a.caseloadFiltered(CaseloadQuery()), walked, "A's caseload, page by page")
    expectThrows<HoldfastException>("a page of no rows") { a.caseloadPage(CaseloadQuery(), 0u, null) }

    step("observers fire on A, and stop when closed")
    val caseloadCalls = AtomicInteger()
    val docCalls = AtomicInteger()
    val syncCalls = AtomicInteger()
    val caseloadFired = CountDownLatch(1)
    val docFired = CountDownLatch(1)
    val syncFired = CountDownLatch(1)
    val threads = ConcurrentLinkedQueue<String>()
    val caseloadHandle = a.observeCaseload(object : CaseloadObserver {
        override fun caseloadChanged() {
            threads.add(Thread.currentThread().name)
            caseloadCalls.incrementAndGet()
            caseloadFired.countDown()
        }
    })
    val docHandle = a.observeDocument(case.planId, object : DocumentObserver {
        override fun documentChanged(docId: String) {
            check(docId == case.planId) { "document_changed for $docId" }
            docCalls.incrementAndGet()
            docFired.countDown()
        }
    })
    val syncHandle = a.observeSyncStatus(object : SyncStatusObserver {
        override fun syncStatusChanged(status: SyncStatusView) {
            syncCalls.incrementAndGet()
            syncFired.countDown()
        }
    })
    a.createCase(NewPatientInput(name = "Alan Turing", nhsNumber = null, postcode = null, practice = null, phone = null))
    a.addPlanComment(case.planId, "Walk leader is Jo, Tuesdays 10am")
    syncOk(a, "A")
    check(caseloadFired.await(10, TimeUnit.SECONDS)) { "caseload observer did not fire" }
    check(docFired.await(10, TimeUnit.SECONDS)) { "document observer did not fire" }
    check(syncFired.await(10, TimeUnit.SECONDS)) { "sync status observer did not fire" }
    check(threads.none { it == Thread.currentThread().name }) { "callbacks ran on the caller's thread" }
    caseloadHandle.close()
    docHandle.close()
    syncHandle.close()
    Thread.sleep(300) // a callback already running when close() was called may finish
    val counts = listOf(caseloadCalls.get(), docCalls.get(), syncCalls.get())
    a.createCase(NewPatientInput(name = "Mary Seacole", nhsNumber = null, postcode = null, practice = null, phone = null))
    a.addPlanComment(case.planId, "Went to the group")
    syncOk(a, "A")
    Thread.sleep(1000)
    checkEq(counts, listOf(caseloadCalls.get(), docCalls.get(), syncCalls.get()), "callbacks after close")

    step("errors: a bad, a used and a cancelled invite are refused with a message")
    val d = open("Someone else")
    val garbage = expectThrows<HoldfastException.InviteRefused>("a garbage invite") { d.redeemInvite("HF1-garbage") }
    check(garbage.message.isNotBlank()) { "InviteRefused has no message" }
    // Plain http only to this computer: a relay on another host is refused before any request.
    val cleartext = expectThrows<HoldfastException.InvalidInput>("plain http to another host") {
        d.createTeam("http://relay.example.invalid:7878")
    }
    check(cleartext.message.contains("this computer")) { "unclear refusal: ${cleartext.message}" }
    val reused = expectThrows<HoldfastException.InviteRefused>("a used invite") { d.redeemInvite(invite) }
    check(reused.message.isNotBlank()) { "InviteRefused has no message" }
    // An invite shown to the wrong person is cancelled before anyone redeems it.
    val wrong = a.createInvite(null, Role.LINK_WORKER, 15u)
    val pendingInvites = a.invites(null).filter { it.state == InviteState.PENDING }
    checkEq(1, pendingInvites.size, "pending invites")
    a.cancelInvite(null, wrong)
    val cancelled = a.invites(null).single { it.inviteId == pendingInvites[0].inviteId }
    checkEq(InviteState.CANCELLED, cancelled.state, "the invite's state after cancel")
    expectThrows<HoldfastException.InviteRefused>("a cancelled invite") { d.redeemInvite(wrong) }
    checkEq(0, d.teams().size, "teams joined by refused invites")
    val badId = expectThrows<HoldfastException.InvalidInput>("a malformed id") { a.caseFile("not-an-id") }
    check(badId.message.isNotBlank()) { "InvalidInput has no message" }

    step("no panic crosses the boundary; the device stays usable")
    expectThrows<InternalException>("debug_panic") { a.debugPanic() }
    checkEq(4, a.caseload(null).size, "A's caseload after the panic")
    syncOk(a, "A")

    step("a supervisor's day: the case is handed to the link worker and waits in the review queue")
    val s = open("Grace Okoro (supervisor)")
    checkEq(Role.SUPERVISOR, s.redeemInvite(a.createInvite(null, Role.SUPERVISOR, 15u)).role, "S's role")
    val bId = b.deviceId()
    val staff = s.teamMembers(null)
    check(staff.any { it.deviceId == bId && it.role == Role.LINK_WORKER }) { "B among the team's staff: $staff" }
    check(staff.any { it.deviceId == s.deviceId() && it.name == "Grace Okoro (supervisor)" }) { "S named: $staff" }
    checkEq(a.deviceId(), s.caseFile(case.caseId).holder?.deviceId, "the creator holds the case")
    // Nobody has named B in a handover yet: the supervisor gives the name.
    expectThrows<HoldfastException.InvalidInput>("a handover to an unnamed colleague") {
        s.assignCase(case.caseId, bId, null, null)
    }
    s.assignCase(case.caseId, bId, "Priya Natarajan", "Priya does the home visits")
    val handedOver = s.caseFile(case.caseId)
    checkEq(bId, handedOver.holder?.deviceId, "the case's holder")
    checkEq("Priya Natarajan", handedOver.holder?.name, "the holder's name")
    checkEq(false, handedOver.holder?.contested, "a contested holder")
    val handover = handedOver.handovers.last()
    checkEq(a.deviceId(), handover.fromDeviceId, "the handover's from")
    checkEq("Grace Okoro (supervisor)", handover.by, "the handover's by")
    checkEq("Priya does the home visits", handover.reason, "the handover's reason")
    val queued = s.reviewQueue(50u).single { it.caseId == case.caseId }
    checkEq(bId, queued.holder?.deviceId, "the queue's holder")
    checkEq(null, queued.reviewedAtMs, "never reviewed")
    checkEq(1u, queued.changed.sessions, "sessions since the last review")
    val load = s.caseloadLoad()
    check(load.any { it.worker?.deviceId == bId && it.referred == 1u }) { "B's load: $load" }
    checkEq(60u, LoadLimits().heldDays, "the default holding limit")

    step("the supervisor comments and marks the case reviewed: it leaves the queue")
    val commentId = s.addSupervisionComment(case.caseId, "Has Ada been to the walking group yet?")
    // The supervisor marks what the screen showed: what syncs in meanwhile brings it back.
    val shown = s.reviewEntry(case.caseId)
    checkEq(1u, shown.holds.comments, "the comment the entry shows")
    val seen = s.markReviewedUpto(case.caseId, shown.holds)
    checkEq(shown.holds, seen, "the counters recorded")
    checkEq(1u, seen.comments, "comments seen by the review")
    check(s.reviewQueue(50u).none { it.caseId == case.caseId }) { "the reviewed case is still queued" }
    expectThrows<HoldfastException.NotAllowed>("a link worker marks a case reviewed") { b.markReviewed(case.caseId) }
    syncOk(s, "S")

    step("the supervisor sets the team's limits; a link worker cannot")
    checkEq(null, s.teamLimits().set, "limits before anyone sets them")
    s.setTeamLimits(LoadLimits(acceptedPerYear = 200u), "Priya works four days")
    expectThrows<HoldfastException.NotAllowed>("a link worker sets the team's limits") {
        b.setTeamLimits(LoadLimits(), null)
    }
    expectThrows<HoldfastException.InvalidInput>("a limit of no sessions") {
        s.setTeamLimits(LoadLimits(sessions = 0u), null)
    }
    syncOk(s, "S")

    step("the link worker syncs, sees the comment as new and acknowledges it")
    val offset = TimeZone.getDefault().getOffset(System.currentTimeMillis()) / 60_000
    val worklists = LinkedBlockingQueue<List<WorkItem>>()
    val worklistHandle = b.observeWorklist(offset, object : WorklistObserver {
        override fun worklistChanged(items: List<WorkItem>) {
            worklists.add(items)
        }
    })
    awaitList(worklists, "at registration") { true }
    syncOk(b, "B")
    val news = b.newSupervisionComments()
    checkEq(listOf(commentId), news.map { it.commentId }, "B's new comments")
    checkEq("Grace Okoro (supervisor)", news[0].by, "the comment's author")
    checkEq(PATIENT_NAME, news[0].patientName, "the comment's patient")
    syncOk(a, "A")
    expectThrows<HoldfastException.NotAllowed>("A acknowledges a comment on a case B holds") {
        a.acknowledgeComment(case.caseId, commentId)
    }
    expectThrows<HoldfastException.NotFound>("an unknown comment") {
        b.acknowledgeComment(case.caseId, "00000000000000ff")
    }
    b.acknowledgeComment(case.caseId, commentId)
    checkEq(emptyList<NewCommentView>(), b.newSupervisionComments(), "B's new comments once acknowledged")
    val teamLimits = b.teamLimits()
    checkEq(200u, teamLimits.limits.acceptedPerYear, "the team's limit on B's device")
    checkEq("Priya works four days", teamLimits.set?.reason, "why it was set")
    syncOk(b, "B")
    syncOk(s, "S")
    checkEq(listOf(commentId), s.caseFile(case.caseId).commentAcks.map { it.commentId }, "S sees the acknowledgement")
    check(s.reviewQueue(50u).none { it.caseId == case.caseId }) { "an acknowledgement brought the case back" }

    step("the link worker's worklist: a ring-back comes and goes; the follow-up on its day")
    val onTheDay = b.worklist("2026-12-05")
    check(onTheDay.any { it.kind == WorkKind.FOLLOW_UP && it.caseId == case.caseId }) { "the follow-up: $onTheDay" }
    val ringId = b.addRingBack(case.caseId, b.today(offset), "Ada rang about the walking group times")
    val withRing = awaitList(worklists, "with the ring-back") { l -> l.any { it.ringBackId == ringId } }
    checkEq(WorkKind.RING_BACK, withRing.single { it.ringBackId == ringId }.kind, "the ring-back's kind")
    checkEq(withRing, b.worklist(b.today(offset)), "the observed list and worklist()")
    b.completeRingBack(case.caseId, ringId)
    awaitList(worklists, "without the ring-back") { l -> l.none { it.ringBackId == ringId } }
    expectThrows<HoldfastException.NotAllowed>("a call made twice") { b.completeRingBack(case.caseId, ringId) }
    expectThrows<HoldfastException.InvalidInput>("a ring-back with no date") {
        b.addRingBack(case.caseId, "tomorrow", "call back")
    }
    expectThrows<HoldfastException.InvalidInput>("a UTC offset of 50 hours") {
        b.observeWorklist(3000, object : WorklistObserver {
            override fun worklistChanged(items: List<WorkItem>) {}
        })
    }
    worklistHandle.close()
    Thread.sleep(300) // a callback already running when close() was called may finish
    worklists.clear()
    b.addRingBack(case.caseId, b.today(offset), "After close")
    Thread.sleep(500)
    checkEq(0, worklists.size, "worklists delivered after close")
    syncOk(b, "B")

    step("the message back to the GP: text and a FHIR Bundle, never the notes; recorded as sent")
    val referral = b.addReferral(
        case.caseId,
        ReferralInput(
            received = "2026-12-01",
            source = ReferralSource.GP,
            referrer = "Dr Patel",
            reason = "Lonely since moving to Leeds",
            needs = listOf(Need.LONELINESS),
        ),
    )
    expectThrows<HoldfastException.InvalidInput>("feedback before a decision") {
        b.gpFeedback(case.caseId, FeedbackKind.ACCEPTED)
    }
    b.decideReferral(case.caseId, referral, ReferralDecision.Accepted)
    val feedback = b.gpFeedback(case.caseId, FeedbackKind.ACCEPTED, "Seen at home on Friday")
    checkEq(FeedbackKind.ACCEPTED, feedback.kind, "the message's kind")
    check(feedback.text.contains(PATIENT_NAME)) { "the text names the person: ${feedback.text}" }
    check(feedback.text.contains("Seen at home on Friday")) { "the link worker's addition" }
    check(feedback.bundleJson.contains("871731000000106")) { "the referral's SNOMED code" }
    check(feedback.bundleJson.contains("\"type\": \"document\"")) { "a document Bundle" }
    check(!feedback.bundleJson.contains(VISIT_NOTE) && !feedback.text.contains(VISIT_NOTE)) {
        "the home visit's note went into the message"
    }
    b.recordFeedbackSent(case.caseId, FeedbackKind.ACCEPTED, "Dr Patel")
    expectThrows<HoldfastException.InvalidInput>("a closing message for an open case") {
        b.gpFeedback(case.caseId, FeedbackKind.CLOSED)
    }
    check(b.worklist(b.today(offset)).none { it.kind == WorkKind.FEEDBACK && it.caseId == case.caseId }) {
        "feedback still owed once sent"
    }

    step("private supervision notes: the link worker writes one, the supervisor reads it and responds")
    val bNotes = b.privateNotesDocument()
    checkEq(bNotes, s.privateNotesDocument(bId), "B's notes document, as S names it")
    val noteChanges = LinkedBlockingQueue<String>()
    val notesHandle = b.observeDocument(bNotes, object : DocumentObserver {
        override fun documentChanged(docId: String) {
            noteChanges.add(docId)
        }
    })
    val noteId = b.addPrivateNote(NoteKind.WELLBEING, PRIVATE_NOTE)
    checkEq(bNotes, noteChanges.poll(10, TimeUnit.SECONDS), "B's notes observer on the new note")
    val mine = b.privateNotes()
    checkEq(bId, mine.ownerDeviceId, "the notes' owner")
    val written = mine.notes.single()
    checkEq(noteId, written.noteId, "the note's id")
    checkEq(NoteKind.WELLBEING, written.kind, "the note's kind")
    checkEq(PRIVATE_NOTE, written.text, "the note's text")
    checkEq(b.today(0), written.date, "the note's date")
    checkEq("Priya Natarajan", written.by, "the note's author")
    checkEq(emptyList<NoteResponseView>(), written.responses, "responses before any")
    expectThrows<HoldfastException.NotAllowed>("a link worker answers their own note") {
        b.respondToPrivateNote(bId, noteId, "Noted")
    }
    checkEq(emptyList<PrivateNoteView>(), s.privateNotes(bId).notes, "S's copy before a sync")
    syncOk(b, "B")
    syncOk(s, "S")
    checkEq(mine, s.privateNotes(bId), "S reads B's notes")
    val responseId = s.respondToPrivateNote(bId, noteId, NOTE_RESPONSE)
    syncOk(s, "S")
    noteChanges.clear()
    syncOk(b, "B")
    checkEq(bNotes, noteChanges.poll(10, TimeUnit.SECONDS), "B's notes observer on the response")
    notesHandle.close()
    val answered = b.privateNotes().notes.single().responses.single()
    checkEq(responseId, answered.responseId, "the response's id")
    checkEq(NOTE_RESPONSE, answered.text, "the response's text")
    checkEq("Grace Okoro (supervisor)", answered.by, "the response's author")
    checkEq(s.deviceId(), answered.byDeviceId, "the response's device")
    checkEq(s.privateNotes(bId), b.privateNotes(), "B and S: the same notes")
    syncOk(a, "A")
    checkEq(b.privateNotes(), a.privateNotes(bId), "the admin reads them too")
    expectThrows<HoldfastException.NotAllowed>("the patient's phone reads B's notes") { p.privateNotes(bId) }
    expectThrows<HoldfastException.NotAllowed>("the patient's phone writes a note") {
        p.addPrivateNote(NoteKind.REFLECTION, "Mine")
    }
    expectThrows<HoldfastException.NotAllowed>("a device in no team") { d.privateNotes(null) }
    expectThrows<HoldfastException.InvalidInput>("a malformed note id") {
        s.respondToPrivateNote(bId, "not-a-note", "Hello")
    }
    expectThrows<HoldfastException.InvalidInput>("a malformed device id") { s.privateNotes("not-a-device") }
    expectThrows<HoldfastException.NotFound>("an unknown note") {
        s.respondToPrivateNote(bId, "00000000000000ff", "Hello")
    }
    checkEq(b.privateNotes(), s.privateNotes(bId), "S's copy after the refusals")

    step("the patient's plan on its own: the group's details copied in, large print and SMS, ended at closure")
    val dir = b.createDirectory("Leeds")
    val strollers = b.upsertAsset(
        dir,
        null,
        AssetInput(
            name = "Meanwood Strollers",
            phone = "0113 496 0123",
            schedule = "Tuesdays 10am",
            address = "Meanwood Park car park",
            postcode = "LS6 4LA",
            cost = "Free",
            referralRoute = ReferralRoute.SIGNPOST_ONLY,
            capacity = Capacity.OPEN,
            status = AssetStatus.ACTIVE,
            assuredDate = "2026-11-20",
        ),
    )
    b.setAboutLinkWorker("Priya, your link worker. Ring or text 07700 900123.", case.planId)
    val walk = b.addPlanStep(
        case.planId,
        StepInput(text = "Join the Tuesday walk", owner = StepOwner.PATIENT, asset = AssetRef(dir, strollers)),
    )
    syncOk(b, "B")
    syncOk(p, "P")
    val details = p.actionPlan(case.planId).steps.single { it.stepId == walk }.assetDetails
        ?: throw AssertionError("P's step carries no listing")
    checkEq("Meanwood Strollers", details.name, "the group's name on P's phone")
    checkEq("0113 496 0123", details.phone, "the group's phone on P's phone")
    checkEq("Tuesdays 10am", details.`when`, "when the group meets")
    val large = p.renderPlan(case.planId, RenderStyle.LARGE_PRINT)
    check(large.lines().all { it.length <= 40 }) { "large print has long lines:\n$large" }
    check("Meanwood Strollers" in large && "0113 496 0123" in large) { "the group in large print:\n$large" }
    check("07700 900123" in large) { "about the link worker in large print:\n$large" }
    val sms = p.renderPlan(case.planId, RenderStyle.PLAIN_TEXT)
    check("0113 496 0123" in sms) { "the group's phone in the SMS text:\n$sms" }
    for (text in listOf(large, sms)) {
        for (id in listOf(case.planId, case.caseId, dir, strollers, walk)) {
            check(id !in text) { "an id in the rendered plan: $id" }
        }
    }
    checkEq(sms, b.renderPlan(case.planId, RenderStyle.PLAIN_TEXT), "the same text on the link worker's device")
    check(p.commentNotice(case.planId, 1796511600000L) != null) { "no notice for a comment on Saturday at 11pm" }
    checkEq(null, p.commentNotice(case.planId, 1796209200000L), "a notice on Wednesday at 11am")
    b.closeCase(case.caseId, ClosureReason.GOALS_MET)
    syncOk(b, "B")
    syncOk(p, "P")
    check(p.actionPlan(case.planId).ended != null) { "P's plan has not ended" }
    check("come back" in p.renderPlan(case.planId, RenderStyle.LARGE_PRINT).lowercase()) { "how to come back" }
    val closedMessage = b.gpFeedback(case.caseId, FeedbackKind.CLOSED)
    check(closedMessage.bundleJson.contains("\"type\": \"document\"")) { "the closing Bundle" }

    step("outcomes report, subject access export, raw Automerge export and Open Referral UK export")
    val report = b.outcomesReport("2026-01-01", b.today(0))
    check(report.csv.startsWith("area,measure,breakdown,value\n")) { "the CSV header: ${report.csv.take(80)}" }
    check(report.json.contains("\"referrals\"")) { "the report's JSON: ${report.json.take(200)}" }
    for (out in listOf(report.json, report.csv)) {
        check("Lovelace" !in out && "Hopper" !in out) { "a name in the outcomes report" }
    }
    val sar = b.subjectAccessExport(case.caseId)
    check(PATIENT_NAME in sar.text && PATIENT_NAME in sar.json) { "the SAR names its patient" }
    check("Hopper" !in sar.text && other.caseId !in sar.json) { "another patient in the SAR" }
    val raw = b.exportDocument(case.planId)
    checkEq("action_plan", raw.kind, "the raw document's kind")
    check(raw.bytes.isNotEmpty() && raw.heads.isNotEmpty()) { "raw bytes and heads" }
    check("Meanwood Strollers" in b.exportOpenReferral(dir)) { "the directory as Open Referral UK" }
    expectThrows<HoldfastException.InvalidInput>("a period that ends before it starts") {
        b.outcomesReport("2026-12-01", "2026-11-01")
    }

    step("logging: Holdfast's lines arrive, without the patient's name or notes, or private notes")
    val lines = sink.lines.toList()
    check(lines.any { " holdfast_" in it }) { "no Holdfast log line arrived (${lines.size} lines)" }
    // The patients' names and notes, and the link worker's private note and its response.
    val secrets = listOf("Lovelace", "Hopper", "Turing", "Seacole", "allotment", "walking group", "rang them") +
        listOf("stretched thin", "Friday afternoon")
    for (secret in secrets) {
        val leaks = lines.filter { secret in it }
        check(leaks.isEmpty()) { "private data '$secret' in the log: ${leaks.take(3)}" }
    }
    for (e in listOf(garbage, reused, refused, badId)) {
        check("Lovelace" !in e.toString()) { "patient data in an error: $e" }
    }
    println("  ${lines.size} log lines, none with patient data or private notes")

    for (device in listOf(a, b, p, q, d, s)) device.close()
}
