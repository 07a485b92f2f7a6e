namespace Gateway.Tests.Redis;

/// <summary>
/// The gateway on a real three-primary Redis Cluster, end to end: users spread over every shard by their hash tag,
/// and every session operation (login, protected request, your-sessions page, logout, logout everywhere, revocation
/// seen by another replica) keeps its keys in one slot.
/// </summary>
public sealed class ClusterDeploymentTests
{
    private const int Users = 50;
    private const int SessionsEach = 4;
    private const string Prefix = "gwcl:";

    [Fact]
    public async Task Two_hundred_sessions_spread_over_three_primaries_and_every_session_operation_works_without_a_cross_slot_error()
    {
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync(echoHeader: "X-Auth-User");
        GatewayConfig Config()
        {
            var config = new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(cluster.Configuration, Prefix);
            for (var i = 0; i < Users; i++)
                config.Set($"Gateway:Login:DevUsers:{i + 2}:Name", $"user{i}").Set($"Gateway:Login:DevUsers:{i + 2}:Password", $"user{i}-password");
            return config;
        }
        await using var a = await GatewayHost.StartAsync(Config());
        await using var b = await GatewayHost.StartAsync(Config());

        var sessions = new List<(Browser Browser, string User, GatewayHost Gateway)>();
        for (var i = 0; i < Users; i++)
            for (var k = 0; k < SessionsEach; k++)
            {
                var gateway = k % 2 == 0 ? a : b;
                var browser = gateway.Browser();
                Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync($"user{i}", $"user{i}-password")).StatusCode);
                sessions.Add((browser, $"user{i}", gateway));
            }
        try
        {
            // Each session served as its own user, by either replica.
            foreach (var (browser, user, gateway) in sessions)
            {
                Assert.Equal(user, await (await browser.ApiGetAsync("/api/whoami")).Content.ReadAsStringAsync());
                using var elsewhere = (gateway == a ? b : a).Browser();
                elsewhere.SetCookie("gw_session", browser.Cookie("gw_session")!);
                Assert.Equal(user, await (await elsewhere.ApiGetAsync("/api/whoami")).Content.ReadAsStringAsync());
            }
            // Spread over every primary: each user's keys in their own slot.
            var records = await cluster.KeysPerNodeAsync(Prefix + "{u:*}:s:*");
            Assert.Equal(Users * SessionsEach, records.Sum());
            Assert.All(records, count => Assert.True(count > Users * SessionsEach / 10, $"records per primary: {string.Join(", ", records)}"));

            // Your sessions: the user's four, read in one slot.
            var mine = await (await sessions[0].Browser.ApiGetAsync("/_gateway/my-sessions")).Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(SessionsEach, mine.GetProperty("sessions").GetArrayLength());

            // Logout of one session on replica a: refused there at once, and on b when the message reaches it.
            var loggedOut = sessions[4];
            var cookie = loggedOut.Browser.Cookie("gw_session")!;
            Assert.Equal(HttpStatusCode.SeeOther, (await loggedOut.Browser.PostSameOriginAsync("/logout")).StatusCode);
            Assert.Same(a, loggedOut.Gateway);
            Assert.Equal(HttpStatusCode.Unauthorized, await Poll.AnswerAsync(a.Browser, cookie));
            Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, cookie));

            // Logout everywhere on replica a: the user's sessions that replica b has cached are refused there by the message.
            var everywhere = sessions.Where(s => s.User == "user2").ToList();
            Assert.Equal(HttpStatusCode.SeeOther, (await everywhere[0].Browser.PostSameOriginAsync("/logout?scope=all")).StatusCode);
            foreach (var (browser, _, _) in everywhere.Skip(1)) Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, browser.Cookie("gw_session")!));
            // Everybody else is untouched.
            Assert.Equal("user3", await (await sessions[12].Browser.ApiGetAsync("/api/whoami")).Content.ReadAsStringAsync());

            var logged = a.Logs.Lines.Concat(b.Logs.Lines).Select(l => l.Message).ToList();
            Assert.DoesNotContain(logged, m => m.Contains("CROSSSLOT", StringComparison.Ordinal) || m.Contains("MOVED", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var (browser, _, _) in sessions) browser.Dispose();
        }
    }
}
