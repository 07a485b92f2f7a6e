namespace Gateway.Tests.Security;

/// <summary>Logout cannot be dodged by method, by route order or by a link that asks for more than it should.</summary>
public sealed class LogoutAndEndpointAttackTests(SharedRedis redis)
{
    [Theory]
    [InlineData("HEAD")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("OPTIONS")]
    public async Task Every_method_on_a_logout_path_is_answered_by_the_gateway_and_never_reaches_the_cms(string method)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        foreach (var path in new[] { "/admin/logout", "/logout" })
        {
            var response = await browser.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
            Assert.Equal("GET, POST", string.Join(", ", response.Content.Headers.Allow));
            // The CMS's logout would have redirected to /?cms-logout=1.
            Assert.Null(response.Headers.Location);
        }
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Theory]
    [InlineData("PUT", "/login")]
    [InlineData("DELETE", "/.well-known/jwks.json")]
    [InlineData("POST", "/readyz")]
    [InlineData("PATCH", "/_gateway/sessions")]
    public async Task Other_methods_on_gateway_paths_get_405_and_are_not_proxied(string method, string path)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await browser.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path))).StatusCode);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-1_000_000)]
    [InlineData(int.MinValue + 2)]
    public async Task A_reloaded_catch_all_route_with_any_allowed_order_cannot_shadow_gateway_endpoints(int order)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var hostile = GatewayConfig.StandardRoutesWith(rig.Cms.BaseUrl + "/",
            $"\"grab-all\": {{ \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"anonymous\", \"Order\": {order}, \"Match\": {{ \"Path\": \"{{**everything}}\" }} }}");
        await rig.Gateway.EditRouteFileAsync(hostile);
        // The route is live once an ordinary protected path reaches the CMS anonymously.
        using var anonymous = rig.Gateway.Browser();
        Assert.True(await Poll.Until(async () =>
            (await anonymous.ApiGetAsync("/api/whoami")).StatusCode == HttpStatusCode.OK ? (bool?)true : null));

        Assert.Contains("\"keys\"", await browser.Http.GetStringAsync("/.well-known/jwks.json"));
        Assert.Equal("ok", await browser.Http.GetStringAsync("/healthz"));
        Assert.Contains("\"routes\"", await browser.Http.GetStringAsync("/readyz"));
        Assert.Contains("id=\"username\"", await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
        var logout = await browser.NavigateAsync("/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, logout.StatusCode);
        Assert.Equal("/", logout.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await browser.Http.PutAsync("/login", null)).StatusCode);
    }

    [Theory]
    [InlineData(int.MinValue)]
    [InlineData(int.MinValue + 1)]
    public async Task A_route_claiming_the_orders_reserved_for_gateway_endpoints_is_rejected_on_reload_naming_it(int order)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var hostile = GatewayConfig.StandardRoutesWith(rig.Cms.BaseUrl + "/",
            $"\"grab-all\": {{ \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"anonymous\", \"Order\": {order}, \"Match\": {{ \"Path\": \"{{**everything}}\" }} }}");
        await rig.Gateway.EditRouteFileAsync(hostile);
        var errors = await Poll.Until(() => Task.FromResult(
            rig.Gateway.Services.GetRequiredService<Gateway.Routing.ProxyConfigStatus>().Current.LastErrors is { Count: > 0 } e ? e : null));
        Assert.Contains(errors!, e => e.Contains("route 'grab-all', field 'Order'", StringComparison.Ordinal) && e.Contains("reserved for the gateway", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Scope_all_on_a_get_ends_only_this_session()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var phone = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");

        Assert.Equal(HttpStatusCode.Found, (await laptop.NavigateAsync("/logout?scope=all", site: "same-origin")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task The_cross_site_confirmation_page_never_carries_scope_all_silently()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var phone = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");

        var page = await (await laptop.NavigateAsync("/logout?scope=all", site: "cross-site")).Content.ReadAsStringAsync();
        Assert.Contains("id=\"scope-all\" type=\"checkbox\" name=\"scope\" value=\"all\">", page);
        Assert.DoesNotContain("checked", page);
        Assert.DoesNotContain(Browser.HiddenFields(page), f => f.Key == "scope");

        // Confirming as shown (box unticked) ends this session only.
        Assert.Equal(HttpStatusCode.SeeOther, (await laptop.Http.PostAsync("/logout", new FormUrlEncodedContent(Browser.HiddenFields(page)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
