namespace Gateway.Tests.Tokens;

/// <summary>
/// Access tokens for the APIs behind the gateway, against oidc-provider with short-lived, rotated tokens: forwarded
/// only where a route asks, refreshed once per session across requests and replicas, a refused refresh ends the
/// session, and logout revokes the refresh token at the provider.
/// </summary>
public sealed class AccessTokenTests(SharedRedis redis, ITestOutputHelper output)
{
    // Refreshed once less than the margin (2 s) is left: a test has 6 s after sign-in before any refresh is due, time a
    // loaded CI machine can take for a login and a first request (it had 3 s with 4 s tokens and a 1 s margin).
    private const int TokenSeconds = 8;

    private static void ForwardOnApi(GatewayConfig config)
    {
        config.ProxyJson = GatewayConfig.StandardRoutes(config.UpstreamUrl).Replace(
            "\"Match\": { \"Path\": \"/api/{**rest}\" } }",
            "\"Match\": { \"Path\": \"/api/{**rest}\" }, \"Metadata\": { \"Gateway.ForwardAccessToken\": \"true\" } }", StringComparison.Ordinal);
        config.Set("Gateway:Login:Oidc:AccessTokenRefreshMargin", "00:00:02");
    }

    private static async Task<string?> UpstreamAuthorizationAsync(Browser browser, string path, string? clientAuthorization = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("application/json");
        if (clientAuthorization is not null) request.Headers.TryAddWithoutValidation("Authorization", clientAuthorization);
        var response = await browser.Http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var seen = await response.Content.ReadFromJsonAsync<JsonElement>();
        return seen.GetProperty("headers").TryGetProperty("authorization", out var value) ? value.GetString() : null;
    }

    [Fact]
    public async Task The_access_token_goes_upstream_only_on_routes_that_ask_and_replaces_the_clients()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");

        var forwarded = await UpstreamAuthorizationAsync(browser, "/api/whoami", "Bearer forged-by-the-client");
        Assert.StartsWith("Bearer ", forwarded);
        Assert.NotEqual("Bearer forged-by-the-client", forwarded);
        // A route without the setting never sees the gateway's token; the client's own header is its business.
        Assert.Equal("Bearer forged-by-the-client", await UpstreamAuthorizationAsync(browser, "/admin/whoami", "Bearer forged-by-the-client"));
        Assert.Null(await UpstreamAuthorizationAsync(browser, "/admin/whoami"));
        // Tokens stay server-side.
        Assert.All(browser.Cookies.GetAllCookies(), c => Assert.DoesNotContain(forwarded![7..], c.Value));
    }

    [Fact]
    public async Task A_request_after_expiry_is_served_with_a_fresh_token_and_the_refresh_token_is_rotated()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi, accessTokenTtlSeconds: TokenSeconds);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        var first = await UpstreamAuthorizationAsync(browser, "/api/whoami");
        await Task.Delay(TimeSpan.FromSeconds(TokenSeconds - 0.5));
        var second = await UpstreamAuthorizationAsync(browser, "/api/whoami");
        Assert.NotEqual(first, second);
        Assert.Equal(second, await UpstreamAuthorizationAsync(browser, "/api/whoami"));
        var stats = await rig.Idp.StatsAsync();
        Assert.Equal(1, stats.GetProperty("refreshed").GetInt32());
        Assert.Equal(0, stats.GetProperty("refreshRefused").GetInt32());

        // A second expiry uses the rotated refresh token: the provider refuses a reused one, so success proves rotation.
        await Task.Delay(TimeSpan.FromSeconds(TokenSeconds - 0.5));
        Assert.NotEqual(second, await UpstreamAuthorizationAsync(browser, "/api/whoami"));
        Assert.Equal(2, (await rig.Idp.StatsAsync()).GetProperty("refreshed").GetInt32());
    }

    [Fact]
    public async Task Fifty_concurrent_requests_on_two_replicas_at_expiry_cause_exactly_one_refresh()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi, accessTokenTtlSeconds: TokenSeconds);
        await using var replicaB = await GatewayHost.StartAsync(rig.Config);
        using var onA = rig.Gateway.Browser();
        await rig.LoginAsync(onA, "alice");
        var first = await UpstreamAuthorizationAsync(onA, "/api/whoami");
        using var onB = replicaB.Browser();
        onB.SetCookie("gw_session", onA.Cookie("gw_session")!);
        Assert.Equal(first, await UpstreamAuthorizationAsync(onB, "/api/whoami"));

        await Task.Delay(TimeSpan.FromSeconds(TokenSeconds - 0.5));
        var tokens = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => UpstreamAuthorizationAsync(i % 2 == 0 ? onA : onB, "/api/whoami")));
        output.WriteLine($"{tokens.Distinct().Count()} distinct token(s) among 50 responses");
        Assert.Single(tokens.Distinct());
        Assert.NotEqual(first, tokens[0]);
        Assert.Equal(1, (await rig.Idp.StatsAsync()).GetProperty("refreshed").GetInt32());
    }

    [Fact]
    public async Task A_refresh_the_provider_refuses_ends_the_session_api_401_browser_to_login()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi, accessTokenTtlSeconds: TokenSeconds);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        await UpstreamAuthorizationAsync(browser, "/api/whoami");

        // The provider forgets every grant: the refresh token is no longer valid.
        await rig.Idp.RestartAsync();
        await Task.Delay(TimeSpan.FromSeconds(TokenSeconds - 0.5));
        var api = await browser.ApiGetAsync("/api/whoami");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.True((await rig.Idp.StatsAsync()).GetProperty("refreshRefused").GetInt32() >= 1);
        var page = await browser.NavigateAsync("/admin/whoami");
        Assert.Equal(HttpStatusCode.Found, page.StatusCode);
        Assert.StartsWith("/login?returnUrl=", page.Headers.Location!.OriginalString);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "AccessTokenRefreshRefused");
    }

    [Fact]
    public async Task A_throttled_provider_never_ends_the_session_the_expired_token_answers_503_until_it_recovers()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi, accessTokenTtlSeconds: TokenSeconds);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        var first = await UpstreamAuthorizationAsync(browser, "/api/whoami");
        using var http = new HttpClient();
        await http.GetStringAsync($"{rig.Idp.Issuer}/test/throttle-token?on=true");

        // Within the margin the old token still serves; once expired, 503 and the session lives on.
        await Task.Delay(TimeSpan.FromSeconds(TokenSeconds + 0.5));
        var throttled = await browser.ApiGetAsync("/api/whoami");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, throttled.StatusCode);
        Assert.Equal("token_unavailable", (await throttled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/admin/whoami")).StatusCode);

        await http.GetStringAsync($"{rig.Idp.Issuer}/test/throttle-token?on=false");
        Assert.NotEqual(first, await UpstreamAuthorizationAsync(browser, "/api/whoami"));
    }

    [Fact]
    public async Task Logout_revokes_the_refresh_token_at_the_provider()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        Assert.Equal(HttpStatusCode.Found, (await browser.NavigateAsync("/logout", site: "same-origin")).StatusCode);
        Assert.Equal(1, (await rig.Idp.StatsAsync()).GetProperty("revoked").GetInt32());
    }

    [Fact]
    public async Task Ending_sessions_from_your_sessions_and_by_admin_revokes_their_refresh_tokens_at_the_provider()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, c => { ForwardOnApi(c); c.Set("Gateway:Admin:ApiKey", "token-test-admin-key-0123456789abcdef"); });
        using var laptop = rig.Gateway.Browser();
        await rig.LoginAsync(laptop, "alice");
        using var library = rig.Gateway.Browser();
        await rig.LoginAsync(library, "alice");
        laptop.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var sessions = (await laptop.Http.GetFromJsonAsync<JsonElement>("/_gateway/my-sessions")).GetProperty("sessions").EnumerateArray().ToList();
        var other = sessions.Single(s => !s.GetProperty("thisBrowser").GetBoolean()).GetProperty("hash").GetString()!;
        var revoke = new HttpRequestMessage(HttpMethod.Post, "/_gateway/my-sessions/revoke") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["session"] = other }) };
        revoke.Headers.Add("Origin", rig.Gateway.BaseUrl);
        Assert.Equal(HttpStatusCode.OK, (await laptop.Http.SendAsync(revoke)).StatusCode);
        Assert.Equal(1, (await rig.Idp.StatsAsync()).GetProperty("revoked").GetInt32());

        using var ops = new HttpClient { BaseAddress = new Uri(rig.Gateway.BaseUrl) };
        ops.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "token-test-admin-key-0123456789abcdef");
        Assert.Equal(HttpStatusCode.OK, (await ops.PostAsync("/_gateway/sessions/revoke?user=alice", null)).StatusCode);
        Assert.Equal(2, (await rig.Idp.StatsAsync()).GetProperty("revoked").GetInt32());
    }

    [Fact]
    public async Task A_provider_that_refuses_revocation_does_not_block_the_logout()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, ForwardOnApi);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        using (var http = new HttpClient()) await http.GetStringAsync($"{rig.Idp.Issuer}/test/fail-revocation");
        var logout = await browser.NavigateAsync("/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(1, (await rig.Idp.StatsAsync()).GetProperty("refusedRevocations").GetInt32());
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "RefreshTokenRevocationFailed");
    }
}
