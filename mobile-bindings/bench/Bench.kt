// The cost of the mobile API as a Kotlin app sees it: the real Kotlin bindings, JNA and the
// release library. Run by mobile-bindings/bench.sh:
//   `java ... BenchKt [RECORD_CALLS] [TRIVIAL_CALLS] [CASELOAD_CASES] [CASELOAD_CALLS]`
// No relay, no team: nothing syncs. Each device lives in a temp dir with its keys in memory.
//
// (a) `recordSession`: a device with 5 cases (as ffi/benches/record_session.rs), sessions
//     rotating over them; warm-up, then each call timed with System.nanoTime. A trivial call
//     (`deviceId()`: the store mutex and a 32-hex-digit string back) timed the same way is
//     the crossing cost alone (JNA, RustBuffer lifting, uniffi's call status).
// (b) `caseload(null)`: a fresh device with CASELOAD_CASES cases, each with one session
//     (so rows carry a follow-up, a session count and a last contact); 200 listings of
//     warm-up (the JIT compiles the row lifting), then each listing timed.

import java.nio.file.Files
import java.util.concurrent.ConcurrentHashMap
import kotlin.system.exitProcess
import uniffi.holdfast_ffi.*

class MemoryKeyStore : HostKeyStore {
    private val secrets = ConcurrentHashMap<String, ByteArray>()
    override fun get(name: String): ByteArray? = secrets[name]?.copyOf()
    override fun put(name: String, value: ByteArray) {
        secrets[name] = value.copyOf()
    }
}

const val NOTE =
    "Home visit: talked about the lunch club; she would like someone to go with her the first time."
const val PRACTICES = 6

fun open(person: String): HoldfastDevice {
    val dir = Files.createTempDirectory("holdfast-bench-").toFile()
    dir.deleteOnExit()
    return HoldfastDevice.open(DeviceConfig(dataDir = dir.path, person = person), MemoryKeyStore())
}

fun session(n: Long, followUp: String?) = SessionInput(
    startMs = 1_780_000_000_000 + n, durationMinutes = 45u, mode = SessionMode.HOME_VISIT,
    attended = true, note = NOTE, followUp = followUp)

fun newCase(device: HoldfastDevice, i: Int): NewCase = device.createCase(NewPatientInput(
    name = "Patient $i", nhsNumber = null, postcode = null,
    practice = "Practice ${i % PRACTICES}", phone = null))

/** Times [calls] calls of [op] after [warmup] untimed ones; returns each call's ns. */
inline fun time(warmup: Int, calls: Int, op: (Int) -> Unit): LongArray {
    for (i in 0 until warmup) op(i)
    val ns = LongArray(calls)
    for (i in 0 until calls) {
        val t0 = System.nanoTime()
        op(warmup + i)
        ns[i] = System.nanoTime() - t0
    }
    return ns
}

fun report(what: String, ns: LongArray) {
    val s = ns.sortedArray()
    fun pct(p: Double) = s[minOf(s.size - 1, (p * s.size).toInt())]
    println("%-36s n=%-6d median %-10s p90 %-10s p99 %-10s mean %-10s min %s".format(
        what, s.size, fmt(pct(0.5).toDouble()), fmt(pct(0.9).toDouble()), fmt(pct(0.99).toDouble()),
        fmt(s.average()), fmt(s[0].toDouble())))
}

/** ns as µs below 1 ms, else ms. */
fun fmt(ns: Double): String =
    if (ns >= 1_000_000.0) "%.3f ms".format(ns / 1e6) else "%.2f µs".format(ns / 1e3)

fun main(args: Array<String>) {
    val recordCalls = args.getOrNull(0)?.toInt() ?: 1_000
    val trivialCalls = args.getOrNull(1)?.toInt() ?: 100_000
    val caseloadCases = args.getOrNull(2)?.toInt() ?: 250
    val caseloadCalls = args.getOrNull(3)?.toInt() ?: 200
    try {
        println("java ${System.getProperty("java.version")} (${System.getProperty("java.vm.name")}), " +
            "${Runtime.getRuntime().availableProcessors()} cores")

        // (a) recordSession, and the trivial call.
        open("Bench Worker").use { device ->
            val cases = (0 until 5).map { newCase(device, it).caseId }
            var n = 0L
            val record = time(200, recordCalls) { i ->
                n += 1
                device.recordSession(cases[i % cases.size], session(n, "2026-12-01"))
            }
            report("recordSession (5 cases)", record)
            var sink = 0
            val trivial = time(20_000, trivialCalls) { sink += device.deviceId().length }
            report("deviceId() (crossing only)", trivial)
            val person = time(20_000, trivialCalls) { sink += device.person().length }
            report("person() (crossing only)", person)
            if (sink == 0) println(sink)
        }

        // (b) caseload(null) over caseloadCases cases.
        open("Bench Worker").use { device ->
            val t0 = System.nanoTime()
            for (i in 0 until caseloadCases) {
                val case = newCase(device, i)
                // Follow-ups spread over five weeks: the list is sorted by them.
                val day = 1 + i % 28
                device.recordSession(case.caseId, session(i.toLong(), "2026-12-%02d".format(day)))
            }
            println("built $caseloadCases cases with a session each in %.1f s".format((System.nanoTime() - t0) / 1e9))
            val rows = device.caseload(null)
            check(rows.size == caseloadCases) { "caseload has ${rows.size} rows, expected $caseloadCases" }
            check(rows.all { it.sessionCount == 1u && it.nextFollowUp != null }) { "rows without their session" }
            var sink = 0
            val listing = time(200, caseloadCalls) { sink += device.caseload(null).size }
            report("caseload(null) ($caseloadCases rows)", listing)
            if (sink == 0) println(sink)
        }
    } catch (e: Throwable) {
        System.err.println("FAILED: $e")
        e.printStackTrace()
        exitProcess(1)
    }
    // JNA and the devices' runtimes keep non-daemon threads: leave explicitly.
    exitProcess(0)
}
