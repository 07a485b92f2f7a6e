namespace Gateway.Tests.Hosting;

/// <summary>
/// Every gateway path is a setting, and one prefix moves them all out of the CMS's way: links, redirects,
/// forms, the JWKS the CMS verifies with, readiness and the reserved-route check all follow.
/// </summary>
public sealed class GatewayPathTests(SharedRedis redis)
{
    private const string Prefix = "/_gateway";

    private static void WithPrefix(GatewayConfig config)
    {
        config.Set("Gateway:Paths:Prefix", Prefix);
        // No explicit logout paths: they fall back to {Prefix}/logout.
        config.Settings.Remove("Gateway:Logout:Paths:0");
        config.Settings.Remove("Gateway:Logout:Paths:1");
    }

    [Fact]
    public async Task With_a_prefix_every_gateway_path_moves_and_the_cms_keeps_its_own_login_page()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, WithPrefix, jwksPath: Prefix + "/.well-known/jwks.json");
        using var browser = rig.Gateway.Browser();

        // The CMS's own /login is proxied, no longer hidden by the gateway.
        Assert.Contains("id=\"cms-login\"", await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());

        // Challenges point at the moved login.
        var challenge = await browser.NavigateAsync("/admin");
        Assert.Equal(HttpStatusCode.Found, challenge.StatusCode);
        Assert.Equal($"{Prefix}/login?returnUrl=%2Fadmin", challenge.Headers.Location!.OriginalString);
        var api = await (await browser.ApiGetAsync("/api/whoami")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"{Prefix}/login", api.GetProperty("login").GetString());

        // The form posts to the moved path; the CMS verifies the assertion with the moved JWKS.
        var form = await (await browser.NavigateAsync($"{Prefix}/login")).Content.ReadAsStringAsync();
        Assert.Contains($"action=\"{Prefix}/login\"", form);
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password", loginPath: $"{Prefix}/login")).StatusCode);
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.True(seen.GetProperty("identity").GetProperty("verified").GetBoolean(), seen.GetProperty("identity").ToString());

        Assert.Equal(HttpStatusCode.OK, (await browser.Http.GetAsync($"{Prefix}/readyz")).StatusCode);
        Assert.Equal("ok", await browser.Http.GetStringAsync($"{Prefix}/healthz"));
        Assert.Contains("\"keys\"", await browser.Http.GetStringAsync($"{Prefix}/.well-known/jwks.json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await browser.Http.PutAsync($"{Prefix}/login", null)).StatusCode);

        // /logout is the CMS's now; the gateway's logout moved.
        var logout = await browser.NavigateAsync($"{Prefix}/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_route_claiming_a_moved_gateway_path_is_rejected_and_the_old_path_is_free()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, WithPrefix, jwksPath: Prefix + "/.well-known/jwks.json");
        var routes = GatewayConfig.StandardRoutesWith(rig.Cms.BaseUrl + "/",
            $"\"steal-login\": {{ \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"anonymous\", \"Match\": {{ \"Path\": \"{Prefix}/login\" }} }}");
        await rig.Gateway.EditRouteFileAsync(routes);
        var errors = await Poll.Until(() => Task.FromResult(
            rig.Gateway.Services.GetRequiredService<Gateway.Routing.ProxyConfigStatus>().Current.LastErrors is { Count: > 0 } e ? e : null));
        Assert.Contains(errors!, e => e.Contains($"route 'steal-login', field 'Match.Path': '{Prefix}/login' is a gateway endpoint", StringComparison.Ordinal));

        var freed = GatewayConfig.StandardRoutesWith(rig.Cms.BaseUrl + "/",
            "\"cms-login\": { \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"anonymous\", \"Match\": { \"Path\": \"/login\" } }");
        await rig.Gateway.EditRouteFileAsync(freed);
        Assert.True(await Poll.Until(() => Task.FromResult(
            rig.Gateway.Services.GetRequiredService<Gateway.Routing.ProxyConfigStatus>().Current.LastErrors.Count == 0 ? (bool?)true : null)));
    }

    [Theory]
    [InlineData("Gateway:Paths:Prefix", "_gateway", "Gateway:Paths:Prefix: '_gateway' must be a literal path")]
    [InlineData("Gateway:Paths:Prefix", "/_gateway/", "Gateway:Paths:Prefix: '/_gateway/' must be a literal path")]
    [InlineData("Gateway:Paths:Login", "/sign-in/{x}", "Gateway:Paths:Login: '/sign-in/{x}' must be a literal path")]
    public async Task A_path_setting_that_is_not_a_literal_path_stops_startup_naming_it(string key, string value, string expected)
    {
        var ex = await Assert.ThrowsAsync<Gateway.Configuration.GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig().Set(key, value)));
        Assert.Contains(expected, ex.Message);
    }
}
