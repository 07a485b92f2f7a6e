namespace Gateway.Tests.Identity;

public sealed class UpstreamCookieAndCachingTests(SharedRedis redis)
{
    [Fact]
    public async Task The_gateway_cookie_is_removed_upstream_and_other_cookies_pass()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        browser.SetCookie("theme", "dark");
        browser.SetCookie("connect.sid", "s%3Aabc.def");
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        var cookie = seen.GetProperty("headers").GetProperty("cookie").GetString()!;
        Assert.DoesNotContain("gw_session", cookie);
        Assert.DoesNotContain("gw_af", cookie);
        Assert.Contains("theme=dark", cookie);
        Assert.Contains("connect.sid=s%3Aabc.def", cookie);
    }

    [Fact]
    public async Task An_upstream_set_cookie_for_the_gateway_cookie_is_dropped_and_others_pass()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var session = browser.Cookie("gw_session");
        var response = await browser.Http.GetAsync("/set-cookie?names=gw_session,__Host-gw_session,gw_af,cms_pref");
        var setCookies = response.Headers.GetValues("Set-Cookie").ToList();
        Assert.Equal(["cms_pref=from-upstream; Path=/"], setCookies);
        Assert.Equal(session, browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task Signed_in_responses_are_never_stored_by_shared_caches()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var anonymous = rig.Gateway.Browser();
        var publicResponse = await anonymous.Http.GetAsync("/cacheable");
        Assert.Equal("public, max-age=600", publicResponse.Headers.CacheControl!.ToString());

        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var signedInPublic = await browser.Http.GetAsync("/cacheable");
        Assert.Equal("no-store, private", signedInPublic.Headers.CacheControl!.ToString());
        var admin = await browser.Http.GetAsync("/admin/whoami");
        Assert.Equal("no-store, private", admin.Headers.CacheControl!.ToString());
        // A route that allows the browser (not shared caches) to keep the page.
        var privateRoute = await browser.Http.GetAsync("/private-cacheable");
        var cacheControl = privateRoute.Headers.CacheControl!;
        Assert.True(cacheControl.Private);
        Assert.False(cacheControl.Public);
        Assert.Equal(TimeSpan.FromSeconds(600), cacheControl.MaxAge);
    }
}
