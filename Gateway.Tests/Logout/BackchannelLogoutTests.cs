namespace Gateway.Tests.Logout;

/// <summary>OpenID Connect Back-Channel Logout from node oidc-provider, and hostile logout tokens signed with its key.</summary>
public sealed class BackchannelLogoutTests(SharedRedis redis, BackchannelLogoutTests.SharedProviderRig shared) : IClassFixture<BackchannelLogoutTests.SharedProviderRig>
{
    /// <summary>One provider, CMS and gateway for the hostile-token table: each case signs in its own browser and changes nothing shared.</summary>
    public sealed class SharedProviderRig : IAsyncLifetime
    {
        private RedisServer? _redis;

        internal OidcRig Rig { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            _redis = await RedisServer.StartAsync();
            Rig = await OidcRig.StartAsync(_redis.Configuration);
        }

        public async ValueTask DisposeAsync()
        {
            await Rig.DisposeAsync();
            if (_redis is not null) await _redis.DisposeAsync();
        }
    }

    private const string Event = "http://schemas.openid.net/event/backchannel-logout";

    [Fact]
    public async Task Ending_the_session_at_the_provider_revokes_the_gateway_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        // The user signs out at the provider directly (another app's logout, an admin, session expiry).
        var confirm = await browser.Http.GetStringAsync($"{rig.Idp.Issuer}/session/end");
        var xsrf = System.Text.RegularExpressions.Regex.Match(confirm, "name=\"xsrf\" value=\"([^\"]+)\"").Groups[1].Value;
        var end = await browser.Http.PostAsync($"{rig.Idp.Issuer}/session/end/confirm",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["xsrf"] = xsrf, ["logout"] = "yes" }));
        Assert.True((int)end.StatusCode is 200 or 302 or 303, $"{end.StatusCode}");

        var status = await Poll.Until(async () =>
            (await browser.ApiGetAsync("/api/whoami")).StatusCode is var s && s == HttpStatusCode.Unauthorized ? (HttpStatusCode?)s : null, 10_000);
        Assert.True(status == HttpStatusCode.Unauthorized, rig.Idp.Output + rig.Gateway.Logs.All);
        // Logged once the logout token is also marked used, a moment after the session is refused.
        var logged = await Poll.Until(() => Task.FromResult(rig.Gateway.Logs.Lines.Any(l =>
            l.Event.Name == "BackchannelLogout" && l.Message.Contains("1 session(s) revoked", StringComparison.Ordinal)) ? "logged" : null), 15_000);
        Assert.True(logged is not null, rig.Gateway.Logs.All);
    }

    private static Dictionary<string, object> Claims(IdentityProvider idp, string sub) => new()
    {
        ["iss"] = idp.Issuer,
        ["aud"] = IdentityProvider.ClientId,
        ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["exp"] = DateTimeOffset.UtcNow.AddMinutes(2).ToUnixTimeSeconds(),
        ["jti"] = Guid.NewGuid().ToString("N"),
        ["sub"] = sub,
        ["events"] = new Dictionary<string, object> { [Event] = new Dictionary<string, object>() },
    };

    public static TheoryData<string> Hostile => new() { "unsigned", "expired", "other-audience", "with-nonce", "no-event", "old-iat", "wrong-key", "no-sub", "typed-as-id-token" };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task A_hostile_logout_token_is_rejected_with_400_and_deletes_nothing(string kind)
    {
        var rig = shared.Rig;
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        var claims = Claims(rig.Idp, "alice");
        string token;
        switch (kind)
        {
            case "unsigned":
                token = $"{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode("{\"alg\":\"none\"}")}.{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(JsonSerializer.Serialize(claims))}.";
                break;
            case "wrong-key":
                await using (var other = await IdentityProvider.StartAsync("http://127.0.0.1:9"))
                    token = other.Sign(new Dictionary<string, object>(claims) { ["iss"] = rig.Idp.Issuer });
                break;
            default:
                if (kind == "expired") { claims["iat"] = DateTimeOffset.UtcNow.AddMinutes(-20).ToUnixTimeSeconds(); claims["exp"] = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds(); }
                if (kind == "other-audience") claims["aud"] = "another-client";
                if (kind == "with-nonce") claims["nonce"] = "n";
                if (kind == "no-event") claims["events"] = new Dictionary<string, object> { ["urn:other"] = new Dictionary<string, object>() };
                if (kind == "old-iat") claims["iat"] = DateTimeOffset.UtcNow.AddMinutes(-30).ToUnixTimeSeconds();
                if (kind == "no-sub") claims.Remove("sub");
                token = rig.Idp.Sign(claims, kind == "typed-as-id-token" ? "JWT" : "logout+jwt");
                break;
        }
        var response = await PostAsync(rig, token);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_valid_logout_token_works_once_and_its_replay_is_rejected()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var first = rig.Gateway.Browser();
        await rig.LoginAsync(first, "alice");
        var token = rig.Idp.Sign(Claims(rig.Idp, "alice"), "logout+jwt");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(rig, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.ApiGetAsync("/api/whoami")).StatusCode);

        using var second = rig.Gateway.Browser();
        await rig.LoginAsync(second, "alice");
        var replay = await PostAsync(rig, token);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Contains("jti replay", (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, (await second.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_logout_token_that_failed_during_a_redis_stall_is_honoured_when_the_provider_retries()
    {
        await using var own = await RedisServer.StartAsync();
        await using var rig = await OidcRig.StartAsync(own.Configuration, c => c.Set("Gateway:Redis:OperationTimeout", "00:00:00.300"));
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var token = rig.Idp.Sign(Claims(rig.Idp, "alice"), "logout+jwt");

        // Redis stalls on writes (reads still answer): the revocation times out.
        await using (var admin = await own.ConnectAsync()) await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "1500", "WRITE");
        var first = await PostAsync(rig, token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        await Task.Delay(2500);

        // The provider retries the same token: not a replay, since nothing was done the first time.
        var retry = await PostAsync(rig, token);
        Assert.True(retry.StatusCode == HttpStatusCode.OK, $"{retry.StatusCode}: {await retry.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        // Once done, it is a replay.
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(rig, token)).StatusCode);
    }

    private static async Task<HttpResponseMessage> PostAsync(OidcRig rig, string token)
    {
        using var http = new HttpClient();
        return await http.PostAsync($"{rig.Gateway.BaseUrl}/backchannel-logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = token }));
    }
}
