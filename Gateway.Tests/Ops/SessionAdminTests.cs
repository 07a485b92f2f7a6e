namespace Gateway.Tests.Ops;

public sealed class SessionAdminTests(SharedRedis redis)
{
    private const string AdminKey = "test-admin-key-0123456789abcdefghijklmnop";

    public static TheoryData<string?, HttpStatusCode> BadCredentials => new()
    {
        { null, HttpStatusCode.Unauthorized },
        { "Bearer wrong-key", HttpStatusCode.Forbidden },
        { "Bearer " + AdminKey[..^1], HttpStatusCode.Forbidden },
        { "Basic " + AdminKey, HttpStatusCode.Unauthorized },
    };

    [Theory]
    [MemberData(nameof(BadCredentials))]
    public async Task Admin_calls_without_the_right_credentials_are_refused_and_revoke_nothing(string? authorization, HttpStatusCode expected)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Admin:ApiKey", AdminKey).Set("Gateway:Admin:Policy", "admins"));
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var outsider = new HttpClient { BaseAddress = new Uri(rig.Gateway.BaseUrl) };
        var request = new HttpRequestMessage(HttpMethod.Post, "/_gateway/sessions/revoke?all=true");
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        Assert.Equal(expected, (await outsider.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_signed_in_user_outside_the_admin_policy_gets_403()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Admin:Policy", "admins"));
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.Http.PostAsync("/_gateway/sessions/revoke?user=alice", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task The_admin_key_lists_and_revokes_a_users_sessions_and_revoke_all_signs_everyone_out()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Admin:ApiKey", AdminKey));
        using var alice1 = rig.Gateway.Browser();
        using var alice2 = rig.Gateway.Browser();
        using var admin = rig.Gateway.Browser();
        await alice1.LoginAsync("alice", "alice-password");
        await alice2.LoginAsync("alice", "alice-password");
        await admin.LoginAsync("admin", "admin-password");
        using var ops = new HttpClient { BaseAddress = new Uri(rig.Gateway.BaseUrl) };
        ops.DefaultRequestHeaders.Add("Authorization", $"Bearer {AdminKey}");

        var list = await ops.GetFromJsonAsync<JsonElement>("/_gateway/sessions?user=alice");
        var sessions = list.GetProperty("sessions").EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        Assert.All(sessions, s => Assert.Matches("^[0-9a-f]{16}$", s.GetProperty("sessionHash").GetString()!));
        Assert.DoesNotContain(alice1.Cookie("gw_session")!, list.ToString());

        var revoked = await (await ops.PostAsync("/_gateway/sessions/revoke?user=alice", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, revoked.GetProperty("revoked").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice1.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice2.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.ApiGetAsync("/api/whoami")).StatusCode);

        var all = await (await ops.PostAsync("/_gateway/sessions/revoke?all=true", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(all.GetProperty("revoked").GetInt32() >= 1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Theory]
    [InlineData(null, null, HttpStatusCode.Forbidden)]
    [InlineData("https://evil.example", null, HttpStatusCode.Forbidden)]
    [InlineData(null, "cross-site", HttpStatusCode.Forbidden)]
    [InlineData(null, "same-site", HttpStatusCode.Forbidden)]
    [InlineData("self", null, HttpStatusCode.OK)]
    [InlineData(null, "same-origin", HttpStatusCode.OK)]
    public async Task A_revoke_through_an_admins_browser_session_must_come_from_this_site(string? origin, string? site, HttpStatusCode expected)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Admin:Policy", "admins"));
        using var admin = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");

        var request = new HttpRequestMessage(HttpMethod.Post, "/_gateway/sessions/revoke?user=alice");
        if (origin is not null) request.Headers.Add("Origin", origin == "self" ? rig.Gateway.BaseUrl : origin);
        if (site is not null) request.Headers.Add("Sec-Fetch-Site", site);
        Assert.Equal(expected, (await admin.Http.SendAsync(request)).StatusCode);
        Assert.Equal(expected == HttpStatusCode.OK ? HttpStatusCode.Unauthorized : HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task The_sessions_command_lists_and_revokes_against_the_configured_redis()
    {
        await using var own = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var env = new GatewayConfig().WithRedis(own.Configuration, rig.KeyPrefix).Settings
            .ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value);

        var (listExit, listOutput) = await RunAsync(env, "sessions", "list", "--user", "alice");
        Assert.Equal(0, listExit);
        Assert.Matches("(?m)^[0-9a-f]{16}  dev  ", listOutput);

        var (revokeExit, revokeOutput) = await RunAsync(env, "sessions", "revoke", "--user", "alice");
        Assert.Equal(0, revokeExit);
        Assert.Contains("revoked 1 session(s)", revokeOutput);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice.ApiGetAsync("/api/whoami")).StatusCode);

        var (usageExit, _) = await RunAsync(env, "sessions", "revoke");
        Assert.Equal(64, usageExit);
    }

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "sessions list --user alice", "Gateway__Redis__KeyPrefix", "Gateway:Redis:KeyPrefix: must be non-empty" },
        { "sessions revoke --all", "Gateway__KeyRing__KeyEncryptionKey", "Gateway:KeyRing:KeyEncryptionKey: must be base64 of exactly 32 bytes" },
        { "sessions list --user alice", "Gateway__Session__IdleTimeout", "Gateway:Session:IdleTimeout" },
        { "config check", "Gateway__ProxyConfigPollInterval", "Gateway:ProxyConfigPollInterval" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Every_command_with_bad_settings_exits_non_zero_naming_the_setting_without_a_stack_trace(string command, string key, string expected)
    {
        var env = new GatewayConfig().WithRedis("127.0.0.1:9").Settings.ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value);
        env[key] = key switch
        {
            "Gateway__Redis__KeyPrefix" => "bad{prefix",
            "Gateway__KeyRing__KeyEncryptionKey" => "dG9vLXNob3J0",
            _ => "not-a-timespan",
        };
        var (exit, output) = await RunAsync(env, command.Split(' '));
        Assert.Equal(2, exit);
        Assert.Contains(expected, output);
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("Exception", output);
    }

    private static async Task<(int, string)> RunAsync(Dictionary<string, string?> env, params string[] args)
    {
        env["ASPNETCORE_ENVIRONMENT"] = "Testing";
        await using var process = new ServerProcess("dotnet", [Tools.GatewayDll, .. args], env, Path.GetTempPath());
        var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exit, process.Output);
    }
}
