namespace Gateway.Tests.Identity;

public sealed class PolicyTests(SharedRedis redis)
{
    [Fact]
    public async Task A_signed_in_user_without_the_role_gets_403_page_or_json()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var editor = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var page = await editor.NavigateAsync("/admin/users/list");
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("Access denied", await page.Content.ReadAsStringAsync());
        var api = await editor.ApiGetAsync("/admin/users/list");
        Assert.Equal(HttpStatusCode.Forbidden, api.StatusCode);
        Assert.Equal("forbidden", (await api.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        using var admin = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.ApiGetAsync("/admin/users/list")).StatusCode); // proxied: the CMS has no such page
    }

    [Fact]
    public async Task A_route_without_a_policy_needs_a_signed_in_user()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.ProxyJson = GatewayConfig.StandardRoutes(c.UpstreamUrl)
            .Replace("\"cms-api\": { \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"default\",", "\"cms-api\": { \"ClusterId\": \"cms\","));
        using var browser = rig.Gateway.Browser();
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
