using StackExchange.Redis;

namespace Gateway.Tests.Redis;

/// <summary>
/// Writes the user is told succeeded wait for a replica (WAIT), counted among the replicas connected to the primary
/// now: a replica that does not acknowledge in time turns the login or logout into a reported failure, never a
/// success; a primary left with none goes on unreplicated and says so. Real primary, real replica behind a TCP hop.
/// </summary>
public sealed class ReplicaAcknowledgementTests
{
    // A wait generous enough that a replica in step acknowledges within it on a busy machine, and a replica further
    // behind than that.
    private static readonly TimeSpan FarBehind = TimeSpan.FromSeconds(3.5);

    private static GatewayConfig Config(SentinelRig rig, string prefix, RecordingUpstream upstream) =>
        new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(rig.PrimaryConfiguration, prefix).Set("Gateway:Redis:WaitTimeout", "00:00:02");

    [Fact]
    public async Task A_login_no_replica_acknowledges_in_time_answers_503_and_signs_nobody_in()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(Config(rig, "gwack1:", upstream));
        rig.ReplicationDelay = FarBehind;
        using var browser = gateway.Browser();

        var login = await browser.LoginAsync("alice", "alice-password");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, login.StatusCode);
        Assert.Null(browser.Cookie("gw_session"));
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name == "RedisWriteNotAcknowledged");
        // Caught up again, the same login goes through.
        rig.ReplicationDelay = TimeSpan.Zero;
        await Task.Delay(FarBehind);
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
    }

    [Fact]
    public async Task A_logout_no_replica_acknowledges_says_so_and_this_gateway_refuses_the_session_even_if_a_failover_brings_it_back()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(Config(rig, "gwack2:", upstream));
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        await using var primary = await ConnectionMultiplexer.ConnectAsync($"{rig.PrimaryConfiguration},allowAdmin=true");
        var server = primary.GetServer(rig.PrimaryConfiguration);
        var recordKey = server.Keys(pattern: "gwack2:*:s:*").Single();
        var record = (await primary.GetDatabase().KeyDumpAsync(recordKey))!;
        rig.ReplicationDelay = FarBehind;

        var logout = await browser.PostSameOriginAsync("/logout");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, logout.StatusCode);
        Assert.Contains("id=\"logout-unconfirmed\"", await logout.Content.ReadAsStringAsync());
        Assert.NotNull(browser.Cookie("gw_session"));
        // The failover the gateway could not rule out: the record back as the replica had it, without its tombstone.
        await primary.GetDatabase().KeyRestoreAsync(recordKey, record, TimeSpan.FromMinutes(10));
        foreach (var tombstone in server.Keys(pattern: "gwack2:*:gone:*")) await primary.GetDatabase().KeyDeleteAsync(tombstone);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task With_its_replica_gone_the_primary_takes_logins_unreplicated_and_the_log_says_so()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(Config(rig, "gwack3:", upstream));
        using (var before = gateway.Browser())
        {
            var first = await before.LoginAsync("alice", "alice-password");
            Assert.True(first.StatusCode == HttpStatusCode.SeeOther, $"{first.StatusCode}: {string.Join("\n", gateway.Logs.Lines.Select(l => l.Event.Name + " " + l.Message))}");
            Assert.Equal(HttpStatusCode.OK, (await before.ApiGetAsync("/api/whoami")).StatusCode);
        }
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name == "RedisWritesUnreplicated");

        await rig.KillReplicaAsync();
        // The count of replicas is kept a second; within it a write still waits for the dead one and is refused.
        await Task.Delay(1100);
        using var browser = gateway.Browser();

        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
        // Many at once find the primary without replicas together: still one warning for the stretch.
        var sessions = gateway.Services.GetRequiredService<Gateway.Sessions.SessionManager>();
        var now = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => sessions.CreateAsync(new Gateway.Sessions.SessionRecord
        {
            UserId = $"concurrent-{i}", CreatedAt = now, AbsoluteExpiresAt = now.AddHours(1), Method = "dev",
        }, default)));
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "RedisWritesUnreplicated");
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "RedisWritesUnreplicated");
    }

    [Fact]
    public async Task An_unacknowledged_logout_still_tells_every_replica_which_refuses_the_session_at_once()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var a = await GatewayHost.StartAsync(Config(rig, "gwack4:", upstream));
        await using var b = await GatewayHost.StartAsync(Config(rig, "gwack4:", upstream));
        using var browser = await a.SignedInBrowserAsync("alice", "alice-password");
        var cookie = browser.Cookie("gw_session")!;
        using var onB = b.Browser();
        onB.SetCookie("gw_session", cookie);
        // Replica B has the session cached: only the revocation message can make it refuse it before the cache expires.
        Assert.Equal(HttpStatusCode.OK, (await onB.ApiGetAsync("/api/whoami")).StatusCode);
        rig.ReplicationDelay = FarBehind;

        var logout = await browser.PostSameOriginAsync("/logout");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, logout.StatusCode);
        Assert.Contains("id=\"logout-unconfirmed\"", await logout.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, cookie));
    }

    [Fact]
    public async Task A_retried_unconfirmed_sign_out_everywhere_still_ends_the_users_other_sessions()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(Config(rig, "gwack5:", upstream));
        using var laptop = await gateway.SignedInBrowserAsync("alice", "alice-password");
        using var phone = await gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
        // The premise: a replica connected (the primary lists it online) and known to the gateway (its count is kept a
        // second), only far behind. Without one, nothing is waited for and the first attempt rightly succeeds.
        await using (var primary = await ConnectionMultiplexer.ConnectAsync(rig.PrimaryConfiguration))
            Assert.NotNull(await Poll.Until(async () =>
                await primary.GetServer(rig.PrimaryConfiguration).RoleAsync() is Role.Master { Replicas.Count: 1 } ? (object?)true : null, 5000));
        await Task.Delay(1100);
        rig.ReplicationDelay = FarBehind;
        var first = await laptop.PostSameOriginAsync("/logout?scope=all");
        Assert.True(first.StatusCode == HttpStatusCode.ServiceUnavailable,
            $"{first.StatusCode}: {string.Join("\n", gateway.Logs.Lines.Select(l => l.Event.Name + " " + l.Message))}");
        rig.ReplicationDelay = TimeSpan.Zero;
        await Task.Delay(FarBehind + TimeSpan.FromMilliseconds(300));

        // The laptop's own session is already refused here, so it resolves to nobody; the retry still ends the phone's.
        var retry = await laptop.PostSameOriginAsync("/logout?scope=all");

        Assert.Equal(HttpStatusCode.SeeOther, retry.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
