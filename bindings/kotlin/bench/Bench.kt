package io.scv2

/**
 * JNI-overhead benchmark (scripts/bench-kotlin.sh; not part of CI). One "exchange" is a whole
 * request/response round: client seal_request, server open_request, server seal_response, client
 * open_response (2 seals + 2 opens), body and answer of the same size, ctx "POST /web/v1/auth/login".
 * Measured three ways in one process: the Kotlin API that returns new arrays, the Kotlin `...Into`
 * API with reused buffers, and the Rust core API (BenchNative.rustBaselineNanos, a loop in Rust).
 * Each figure is the median over RUNS runs of N exchanges, after warm-up, in ns per exchange; the
 * overhead column is the median of the per-run differences to the C ABI, per call.
 */
/**
 * The Rust baseline of the benchmark, in its own library (`libscv2_bench.so`, built from
 * bindings/kotlin/bench/native): the same exchange timed inside Rust, so that the production
 * library carries no benchmark code.
 */
internal object BenchNative {
    init {
        System.loadLibrary("scv2_bench")
    }

    /**
     * Nanoseconds for [iterations] exchanges timed inside Rust, through the Rust core API
     * ([cAbi] false) or the C ABI functions ([cAbi] true); -1 if anything failed.
     */
    @JvmStatic external fun rustBaselineNanos(bodyLen: Int, iterations: Int, cAbi: Boolean): Long

    /**
     * The JNI part of one hot call alone: the crossing with the arguments of a seal/open call,
     * and with [copy] also the array copies the binding does for short arrays. Returns the bytes
     * copied back.
     */
    @JvmStatic external fun arrays(ctx: ByteArray, input: ByteArray, out: ByteArray, outCap: Int, copy: Boolean): Int
}

object Bench {
    // Many short runs, each of the four variants back to back: the overhead is the median of the
    // per-run differences, which load on a shared machine shifts much less than the medians.
    private const val RUNS = 201
    private const val N = 400
    private val ctx = "POST /web/v1/auth/login".toByteArray()

    private fun median(xs: LongArray): Double {
        val s = xs.sortedArray()
        return s[s.size / 2].toDouble()
    }

    private fun session(): kotlin.Pair<ClientSession, ServerSession> {
        val now = System.currentTimeMillis()
        val server = Server()
        server.generateKey("bench", now)
        val config = ClientConfig().pin("bench", server.publicKey("bench"))
        val hs = ClientHandshake.start(config, "bench", "{}".toByteArray())
        val accepted = server.accept(hs.envelope, now)
        val (s, t) = accepted.respond(now + 3_600_000)
        val c = hs.finish(t, now)
        hs.close(); accepted.close(); config.close(); server.close()
        return kotlin.Pair(c, s)
    }

    private fun kotlinAlloc(c: ClientSession, s: ServerSession, body: ByteArray, n: Int): Long {
        val now = System.currentTimeMillis()
        var sink = 0
        val t0 = System.nanoTime()
        for (i in 0 until n) {
            val (pending, env) = c.sealRequest(ctx, body, now)
            val req = s.openRequest(ctx, env, now)
            val resp = s.sealResponse(req, ctx, req.body)
            sink += c.openResponse(pending, ctx, resp).size
        }
        val t = System.nanoTime() - t0
        check(sink == n * body.size)
        return t
    }

    private fun kotlinInto(c: ClientSession, s: ServerSession, body: ByteArray, n: Int): Long {
        val now = System.currentTimeMillis()
        val reqBuf = ByteArray(c.sealedLen(body.size))
        val plain = ByteArray(maxOpenLen(reqBuf.size))
        val respBuf = ByteArray(s.sealedLen(body.size))
        val answer = ByteArray(maxOpenLen(respBuf.size))
        var sink = 0
        val t0 = System.nanoTime()
        for (i in 0 until n) {
            val pending = c.sealRequestInto(ctx, body, reqBuf, now)
            val req = s.openRequestInto(ctx, reqBuf, plain, now)
            val body2 = if (req.length == body.size) body else plain.copyOf(req.length)
            val m = s.sealResponseInto(req, ctx, body2, respBuf)
            check(m == respBuf.size)
            sink += c.openResponseInto(pending, ctx, respBuf, answer)
        }
        val t = System.nanoTime() - t0
        check(sink == n * body.size)
        return t
    }

    @JvmStatic
    fun main(args: Array<String>) {
        // The cost of one trivial native call through the JNI boundary (jni_boundary!, no arrays).
        val calls = LongArray(RUNS)
        var sink = 0
        for (r in -5 until RUNS) {
            val t0 = System.nanoTime()
            for (i in 0 until N) sink += Native.maxOpenLen(100 + (i and 7))
            if (r >= 0) calls[r] = System.nanoTime() - t0
        }
        check(sink != 0)
        println(String.format("Trivial native call (`Native.maxOpenLen`, through `jni_boundary!`): %.0f ns.", median(calls) / N))
        // What every call pays to hold its handle (NativeHandle: one atomic increment and decrement).
        val h = NativeHandle(1L, "bench") { }
        val locks = LongArray(RUNS)
        for (r in -5 until RUNS) {
            val t0 = System.nanoTime()
            for (i in 0 until N) {
                sink += h.acquire().toInt()
                h.release()
            }
            if (r >= 0) locks[r] = System.nanoTime() - t0
        }
        println(String.format("Holding a handle (`NativeHandle.acquire` + `release`): %.0f ns.", median(locks) / N))
        // The JNI part of a hot call (64-byte input): the crossing alone, then with the copies.
        val input = ByteArray(64 + 32)
        val out = ByteArray(256)
        for (copy in booleanArrayOf(false, true)) {
            val xs = LongArray(RUNS)
            for (r in -5 until RUNS) {
                val t0 = System.nanoTime()
                for (i in 0 until N) sink += BenchNative.arrays(ctx, input, out, out.size, copy)
                if (r >= 0) xs[r] = System.nanoTime() - t0
            }
            println(
                String.format(
                    if (copy) "The same with the array copies of a 96-byte input (two lengths, two reads, one write): %.0f ns."
                    else "A JNI call with a seal/open call's arguments (three arrays, an Int), nothing done: %.0f ns.",
                    median(xs) / N
                )
            )
        }
        println()
        println("| body | Rust core API | C ABI from Rust | Kotlin, new arrays | Kotlin, reused buffers (`...Into`) | binding overhead per call vs C ABI: new arrays / reused |")
        println("|---:|---:|---:|---:|---:|---:|")
        for (size in intArrayOf(64, 1024)) {
            val body = ByteArray(size) { (it * 31).toByte() }
            val rust = LongArray(RUNS)
            val cabi = LongArray(RUNS)
            val alloc = LongArray(RUNS)
            val into = LongArray(RUNS)
            // Warm-up (JIT, caches), then interleave the three so drift hits all alike. A new
            // session pair per run keeps the sequence numbers far from exhaustion.
            for (w in 0 until 5) {
                val (c, s) = session()
                kotlinAlloc(c, s, body, N); kotlinInto(c, s, body, N)
                BenchNative.rustBaselineNanos(size, N, false); BenchNative.rustBaselineNanos(size, N, true)
                c.close(); s.close()
            }
            for (r in 0 until RUNS) {
                val (c, s) = session()
                rust[r] = BenchNative.rustBaselineNanos(size, N, false)
                cabi[r] = BenchNative.rustBaselineNanos(size, N, true)
                alloc[r] = kotlinAlloc(c, s, body, N)
                into[r] = kotlinInto(c, s, body, N)
                c.close(); s.close()
            }
            val mr = median(rust) / N
            val mc = median(cabi) / N
            val ma = median(alloc) / N
            val mi = median(into) / N
            // Per call (4 calls an exchange), the median of the per-run differences.
            val da = median(LongArray(RUNS) { alloc[it] - cabi[it] }) / N / 4
            val di = median(LongArray(RUNS) { into[it] - cabi[it] }) / N / 4
            println(String.format("| %d B | %.0f ns | %.0f ns | %.0f ns | %.0f ns | %.0f / %.0f ns |", size, mr, mc, ma, mi, da, di))
        }
    }
}
