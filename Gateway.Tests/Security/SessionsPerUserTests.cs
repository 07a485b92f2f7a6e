using System.Diagnostics;
using Gateway.Sessions;

namespace Gateway.Tests.Security;

/// <summary>Audit round two, finding 5: sessions per user are capped, and "your sessions" costs a few commands however many there are.</summary>
public sealed class SessionsPerUserTests
{
    [Fact]
    public async Task At_the_cap_signing_in_again_ends_the_least_recently_used_session_and_logs_it()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:MaxPerUser", "3"));
        var browsers = new List<Browser>();
        for (var i = 0; i < 3; i++) browsers.Add(await rig.Gateway.SignedInBrowserAsync("alice", "alice-password"));
        // A fourth sign-in: the first session, the least recently used, ends.
        browsers.Add(await rig.Gateway.SignedInBrowserAsync("alice", "alice-password"));

        var live = 0;
        foreach (var browser in browsers)
            if ((await browser.ApiGetAsync("/api/whoami")).StatusCode == HttpStatusCode.OK) live++;
        Assert.Equal(3, live);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browsers[0].ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browsers[3].ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "SessionCapReached");
        foreach (var browser in browsers) browser.Dispose();
    }

    [Fact]
    public async Task Your_sessions_with_1000_sessions_sends_at_most_5_commands_to_redis_per_view()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:MaxPerUser", "1000"));
        var sessions = rig.Gateway.Services.GetRequiredService<SessionManager>();
        for (var batch = 0; batch < 999; batch += 111)
            await Task.WhenAll(Enumerable.Range(0, 111).Select(_ => sessions.CreateAsync(new SessionRecord
                { UserId = "alice", Method = "dev", CreatedAt = DateTimeOffset.UtcNow, AbsoluteExpiresAt = DateTimeOffset.UtcNow.AddHours(1) }, default)));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/_gateway/my-sessions")).StatusCode); // warm: JIT, cache

        await using var mux = await redis.ConnectAsync();
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        var before = await CommandCountsAsync(server);
        var clock = Stopwatch.StartNew();
        var view = await browser.ApiGetAsync("/_gateway/my-sessions");
        clock.Stop();
        var after = await CommandCountsAsync(server);

        Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        Assert.Equal(1000, (await view.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessions").GetArrayLength());
        var sent = after.Where(kv => kv.Key is not ("info" or "ping" or "echo" or "config")).Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
        TestContext.Current.TestOutputHelper?.WriteLine($"{sent} commands, {clock.Elapsed.TotalMilliseconds:0.0} ms for 1000 sessions");
        Assert.InRange(sent, 1, 5);
    }

    private static async Task<Dictionary<string, long>> CommandCountsAsync(StackExchange.Redis.IServer server)
    {
        var counts = new Dictionary<string, long>();
        foreach (var group in await server.InfoAsync("commandstats"))
            foreach (var (key, value) in group)
                if (key.StartsWith("cmdstat_", StringComparison.Ordinal))
                    counts[key["cmdstat_".Length..]] = long.Parse(value.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
        return counts;
    }
}
