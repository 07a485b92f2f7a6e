using System.Diagnostics;
using System.Text.Json;
using Gateway.Hosting;
using Gateway.Identity;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;

namespace Bench;

/// <summary>
/// Where a cache miss spends its time, part by part, through the gateway's own code in this process against a real
/// redis-server on loopback: the store read (one MGET: the wait for Redis, mostly not this process's CPU), the record's
/// decryption (DataProtection), its deserialisation (System.Text.Json), the cache entry with its principal, the
/// identity header values, and the signed assertion. Then the whole miss as a request makes it (the session resolved
/// from the store, nothing cached), to show what the parts leave out; and the miss of an entry past its cached time
/// whose record the read finds unchanged (kept as it is: a digest of the stored bytes instead of the decryption,
/// deserialisation, entry, header values and signature). Then what waking a shed session adds: its cookie checked
/// again (DataProtection's unprotect; once remembered, the memo's digest) and its assertion spelled out again from the
/// seal it kept instead of a signature. Medians of each part over every session, sessions
/// taken in turn so no part runs twice in a row on warm data. Last, what a batch of sliding-expiry writes costs sent as
/// one call against a call a session, and the same for the reads ahead of cached sessions in use.
/// </summary>
internal static class MissPath
{
    public static async Task<string[]> ReportLinesAsync(int count = 5_000)
    {
        var work = Directory.CreateTempSubdirectory("gwmiss").FullName;
        try
        {
            var port = Processes.FreePort();
            Peers.StartRedis(work, port);
            for (var tries = 0; ; tries++)
            {
                try
                {
                    using var probe = new System.Net.Sockets.TcpClient();
                    await probe.ConnectAsync("127.0.0.1", port);
                    break;
                }
                catch (System.Net.Sockets.SocketException) when (tries < 100)
                {
                    await Task.Delay(100);
                }
            }
            await File.WriteAllTextAsync(Path.Combine(work, "proxy.json"), Gateways.RouteFile("http://127.0.0.1:9/"));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development", ContentRootPath = work });
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:ProxyConfigPath"] = Path.Combine(work, "proxy.json"),
                ["Gateway:Redis:Configuration"] = $"127.0.0.1:{port}",
                ["Gateway:Redis:WaitReplicas"] = "0",
                // Every cached entry is past its time at once: each resolve of one reads the store and keeps the entry.
                ["Gateway:Session:CacheDuration"] = "00:00:00",
            });
            builder.AddGateway();
            await using var app = builder.Build();
            await app.StartAsync();
            var sessions = app.Services.GetRequiredService<SessionManager>();
            var store = app.Services.GetRequiredService<ISessionStore>();
            var cache = app.Services.GetRequiredService<SessionCache>();
            var assertions = app.Services.GetRequiredService<AssertionIssuer>();
            var protector = app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("Gateway.SessionRecord.v1");
            var cookies = app.Services.GetRequiredService<SessionCookies>();
            var memo = app.Services.GetRequiredService<VerifiedCookieMemo>();

            var now = DateTimeOffset.UtcNow;
            var keys = new SessionKey[count];
            for (var i = 0; i < count; i++)
                keys[i] = await sessions.CreateAsync(new SessionRecord
                {
                    UserId = Guid.NewGuid().ToString(), Email = $"user{i}@example.org", Name = $"User Number {i}", Roles = ["editor", "reviewer", "staff"],
                    CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "oidc", Device = "Firefox on Linux", Network = "203.0.113.0/24",
                }, CancellationToken.None);
            var cookieHeaders = keys.Select(key =>
            {
                var signIn = new DefaultHttpContext();
                cookies.Append(signIn.Response, key);
                return signIn.Response.Headers.SetCookie.ToString().Split(';')[0];
            }).ToArray();

            var parts = new[]
            {
                "Redis wait (MGET)", "decrypt", "deserialise", "entry + principal", "identity headers", "assertion (ES256)",
                "same bytes? (SHA-256 of the record)", "whole miss (resolve from the store)", "whole miss of an entry kept (unchanged)",
                "cookie check, not remembered (unprotect)", "cookie check, remembered", "assertion from its seal (shed, woken)",
            };
            var times = parts.Select(_ => new double[count]).ToArray();
            // Twice: the first pass warms every path (JIT tiers), the second is measured.
            for (var pass = 0; pass < 2; pass++)
            {
                for (var i = 0; i < count; i++)
                {
                    var key = keys[i];
                    var clock = Stopwatch.StartNew();
                    var stored = (await store.GetAsync(key.Handle, CancellationToken.None))!;
                    times[0][i] = Lap(clock);
                    var plain = protector.Unprotect(stored.Record);
                    times[1][i] = Lap(clock);
                    var record = JsonSerializer.Deserialize(plain, SessionJson.Default.SessionRecord)!;
                    times[2][i] = Lap(clock);
                    var entry = new CachedSession(key, record, now, now.AddMinutes(1), stored.Record);
                    _ = entry.Principal;
                    _ = entry.Feature;
                    times[3][i] = Lap(clock);
                    _ = entry.HeaderValues;
                    times[4][i] = Lap(clock);
                    await assertions.GetAsync(entry, null, CancellationToken.None);
                    times[5][i] = Lap(clock);
                    if (!entry.StillHolds(stored)) throw new InvalidOperationException("a record read twice differed");
                    times[6][i] = Lap(clock);
                    // What waking a shed session costs besides: its cookie checked again, its assertion spelled out.
                    var http = new DefaultHttpContext();
                    http.Request.Headers.Cookie = cookieHeaders[i];
                    clock.Restart();
                    if (cookies.Read(http.Request, out _, out var remembered) != key) throw new InvalidOperationException("a bench cookie did not verify");
                    times[9][i] = Lap(clock);
                    if (cookies.Read(http.Request) != key) throw new InvalidOperationException("a remembered bench cookie did not verify");
                    times[10][i] = Lap(clock);
                    if (remembered is not null) memo.Forget(remembered);
                    var token = entry.Assertion!.Token;
                    if (!entry.TryMarkIdle() || !entry.TryShed(DateTimeOffset.UtcNow, out _)) throw new InvalidOperationException("a bench entry was not shed");
                    clock.Restart();
                    var woken = await assertions.GetAsync(entry, null, CancellationToken.None);
                    times[11][i] = Lap(clock);
                    if (woken != token) throw new InvalidOperationException("a woken session's assertion was not the one it had");
                    cache.Remove(key);
                    clock.Restart();
                    var fetched = await sessions.ResolveAsync(key, CancellationToken.None) ?? throw new InvalidOperationException("a bench session did not resolve");
                    times[7][i] = Lap(clock);
                    await assertions.GetAsync(fetched, null, CancellationToken.None);
                    clock.Restart();
                    var kept = await sessions.ResolveAsync(key, CancellationToken.None);
                    times[8][i] = Lap(clock);
                    if (!ReferenceEquals(kept, fetched)) throw new InvalidOperationException("an unchanged session was not kept");
                    cache.Remove(key);
                }
            }
            var lines = new List<string> { FormattableString.Invariant($"a cache miss, part by part ({count:N0} sessions, Redis on loopback, medians in µs; the parts in this process's code run on its CPU, the Redis wait mostly does not):") };
            for (var p = 0; p < parts.Length; p++)
                lines.Add(FormattableString.Invariant($"  {parts[p],-42}{Median(times[p]),8:0.0}"));
            lines.AddRange(await SlideCostAsync(store, keys));
            lines.AddRange(await ReadAheadCostAsync(store, keys));
            await app.StopAsync();
            return [.. lines];
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    /// <summary>
    /// The sliding-expiry writes of <paramref name="batch"/> sessions at a time, two ways side by side: each session its own
    /// call to the store, all sent at once (how the background writer sent them before it batched), against the lot as
    /// one call (how it sends them now).
    /// </summary>
    private static Task<string[]> SlideCostAsync(ISessionStore store, SessionKey[] keys, int batch = 512)
    {
        var ttl = TimeSpan.FromMinutes(20);
        static void AllSlid(SlideOutcome[] outcomes, int batch)
        {
            if (outcomes.Length != batch || outcomes.Any(o => o != SlideOutcome.Slid)) throw new InvalidOperationException("a bench session was not slid");
        }
        return BatchCostAsync("sliding-expiry writes", "a slide", keys, batch,
            async handles => AllSlid((await Task.WhenAll(handles.Select(h => store.TouchAsync([new SessionSlide(h, ttl)], CancellationToken.None)))).SelectMany(o => o).ToArray(), batch),
            async handles => AllSlid(await store.TouchAsync([.. handles.Select(h => new SessionSlide(h, ttl))], CancellationToken.None), batch));
    }

    /// <summary>
    /// The reads ahead of cached sessions in use (<see cref="SessionRefreshes"/>), <paramref name="batch"/> at a time, against
    /// the same reads made one call a session, all at once (what each request past its cached time makes, less the request).
    /// </summary>
    private static Task<string[]> ReadAheadCostAsync(ISessionStore store, SessionKey[] keys, int batch = 128)
    {
        static void AllFound(IEnumerable<StoredSession?> found)
        {
            if (found.Any(s => s is null)) throw new InvalidOperationException("a bench session was not found");
        }
        return BatchCostAsync("store reads of cached sessions", "a read", keys, batch,
            async handles => AllFound(await Task.WhenAll(handles.Select(h => store.GetAsync(h, CancellationToken.None)))),
            async handles => AllFound((await store.GetEachAsync(handles, CancellationToken.None)).Select(r => r.Stored)));
    }

    /// <summary>
    /// One store operation on <paramref name="batch"/> sessions at a time, one call a session (all sent at once) against
    /// one call a batch: this process's CPU a session (every thread's, the Redis client's reader too; from the totals of
    /// alternating rounds, as the process's CPU clock counts in 10 ms ticks) and the wall time a batch.
    /// </summary>
    private static async Task<string[]> BatchCostAsync(string what, string unit, SessionKey[] keys, int batch,
        Func<SessionHandle[], Task> eachAlone, Func<SessionHandle[], Task> together, int rounds = 21, int batchesPerRound = 10)
    {
        var cpu = new double[2];
        var walls = new[] { new List<double>(), new List<double>() };
        var sent = 0L;
        using var process = Process.GetCurrentProcess();
        // Two rounds first, unmeasured: both ways warm (JIT tiers, the client's buffers).
        for (var round = -2; round < rounds; round++)
        {
            foreach (var alone in round % 2 == 0 ? new[] { true, false } : [false, true])
            {
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                for (var b = 0; b < batchesPerRound; b++)
                {
                    var first = (int)(sent++ * batch % keys.Length);
                    var handles = Enumerable.Range(first, batch).Select(i => keys[i % keys.Length].Handle).ToArray();
                    var clock = Stopwatch.StartNew();
                    await (alone ? eachAlone(handles) : together(handles));
                    if (round >= 0) walls[alone ? 0 : 1].Add(clock.Elapsed.TotalMilliseconds);
                }
                process.Refresh();
                if (round >= 0) cpu[alone ? 0 : 1] += (process.TotalProcessorTime - cpuBefore).TotalMicroseconds;
            }
        }
        var perSession = cpu.Select(total => total / ((double)rounds * batchesPerRound * batch)).ToArray();
        return
        [
            FormattableString.Invariant($"{what}, {batch} sessions at a time ({rounds} alternating rounds of {batchesPerRound} batches each way; CPU µs {unit} from the totals, wall ms a batch, median):"),
            FormattableString.Invariant($"  {"one call a session",-42}{perSession[0],8:0.0}{Median([.. walls[0]]),8:0.00}"),
            FormattableString.Invariant($"  {"one call a batch",-42}{perSession[1],8:0.0}{Median([.. walls[1]]),8:0.00}"),
            FormattableString.Invariant($"  one call a batch against one a session: CPU {perSession[1] / perSession[0]:0.000}x"),
        ];
    }

    public static async Task<int> ReportAsync()
    {
        foreach (var line in await ReportLinesAsync()) Console.WriteLine(line);
        return 0;
    }

    private static double Lap(Stopwatch clock)
    {
        var micros = clock.Elapsed.TotalMicroseconds;
        clock.Restart();
        return micros;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
