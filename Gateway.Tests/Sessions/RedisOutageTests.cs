using System.Diagnostics;

namespace Gateway.Tests.Sessions;

/// <summary>Redis unreachable: public routes keep working, everything that decides who you are answers 503, and nothing pretends.</summary>
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Redis_down_serves_public_routes_and_answers_503_for_protected_routes_and_login()
    {
        await using var own = await RedisServer.StartAsync(persistent: true);
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var anonymous = rig.Gateway.Browser();
        var form = await (await anonymous.NavigateAsync("/login")).Content.ReadAsStringAsync();

        await own.StopAsync();

        Assert.Equal(HttpStatusCode.OK, (await browser.NavigateAsync("/")).StatusCode);
        var api = await browser.ApiGetAsync("/api/whoami");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
        Assert.Equal("5", api.Headers.RetryAfter!.ToString());
        Assert.Equal("session_store_unavailable", (await api.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        var page = await browser.NavigateAsync("/admin");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        Assert.Contains("Temporarily unavailable", await page.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await anonymous.NavigateAsync("/login")).StatusCode);
        var fields = Browser.HiddenFields(form);
        fields["username"] = "alice";
        fields["password"] = "alice-password";
        var post = await anonymous.Http.PostAsync("/login", new FormUrlEncodedContent(fields));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, post.StatusCode);
        Assert.Null(anonymous.Cookie("gw_session"));

        // This replica stays ready: its routes and key ring are local; Redis is reported, never decisive.
        var ready = await anonymous.Http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var readyBody = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(readyBody.GetProperty("store").GetProperty("ready").GetBoolean());
        Assert.True(readyBody.GetProperty("keyRing").GetProperty("usable").GetBoolean());
        Assert.False(readyBody.GetProperty("store").TryGetProperty("detail", out _));

        // An anonymous browser on a protected route still gets the login redirect: no store needed to know that.
        Assert.Equal(HttpStatusCode.Found, (await anonymous.NavigateAsync("/admin")).StatusCode);

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        output.WriteLine($"20 protected requests during the outage took {watch.Elapsed.TotalMilliseconds:0} ms ({watch.Elapsed.TotalMilliseconds / 20:0.0} ms each)");
    }

    [Fact]
    public async Task A_replica_started_while_redis_is_down_answers_503_and_never_treats_valid_cookies_as_forged()
    {
        await using var own = await RedisServer.StartAsync(persistent: true);
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var first = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var cookie = first.Cookie("gw_session")!;

        await own.StopAsync();
        // A new replica comes up during the outage: it cannot read the key ring, so it is not ready.
        await using var fresh = await GatewayHost.StartAsync(new GatewayConfig { UpstreamUrl = rig.Cms.BaseUrl + "/" }.WithRedis(own.Configuration, rig.KeyPrefix), awaitKeyRing: false);
        using var browser = fresh.Browser();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.Http.GetAsync("/readyz")).StatusCode);
        browser.SetCookie("gw_session", cookie);
        var api = await browser.ApiGetAsync("/api/whoami");
        Assert.True(api.StatusCode == HttpStatusCode.ServiceUnavailable, $"{api.StatusCode}\n{fresh.Logs.All}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.NavigateAsync("/admin")).StatusCode);

        var logout = await browser.NavigateAsync("/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, logout.StatusCode);
        Assert.Null(logout.Headers.Location);
        Assert.Equal(cookie, browser.Cookie("gw_session"));
        Assert.DoesNotContain(fresh.Logs.Lines, l => l.Event.Name == "LogoutCompleted");
        Assert.Equal(HttpStatusCode.OK, (await browser.NavigateAsync("/")).StatusCode);

        await own.StartAgainAsync();
        var back = await Poll.Until(async () =>
            (await browser.ApiGetAsync("/api/whoami")).StatusCode is var s && s == HttpStatusCode.OK ? (HttpStatusCode?)s : null, 15_000);
        Assert.Equal(HttpStatusCode.OK, back);
    }

    [Fact]
    public async Task Logout_with_redis_down_keeps_cookie_and_returns_503_then_the_retry_purges()
    {
        await using var own = await RedisServer.StartAsync(persistent: true);
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var cookie = browser.Cookie("gw_session")!;

        await own.StopAsync();
        var failed = await browser.NavigateAsync("/logout", site: "same-origin");
        Assert.True(failed.StatusCode == HttpStatusCode.ServiceUnavailable, rig.Gateway.Logs.All);
        Assert.Null(failed.Headers.Location);
        Assert.DoesNotContain(failed.Headers.TryGetValues("Set-Cookie", out var sc) ? sc : [], c => c.StartsWith("gw_session=", StringComparison.Ordinal));
        var retryPage = await failed.Content.ReadAsStringAsync();
        Assert.Contains("not</strong> ended yet", retryPage);
        Assert.Equal(cookie, browser.Cookie("gw_session"));
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "LogoutStoreUnavailable");
        Assert.DoesNotContain(cookie, rig.Gateway.Logs.All);

        await own.StartAgainAsync();
        var attempts = new List<string>();
        var retry = await Poll.Until(async () =>
        {
            var response = await browser.Http.PostAsync("/logout", new FormUrlEncodedContent(Browser.HiddenFields(retryPage)));
            attempts.Add($"{(int)response.StatusCode}");
            return response.StatusCode == HttpStatusCode.SeeOther ? response : null;
        }, 15_000);
        Assert.True(retry is not null, string.Join(",", attempts.Distinct()) + "\n" + rig.Gateway.Logs.All[^Math.Min(3000, rig.Gateway.Logs.All.Length)..]);
        Assert.Equal("/", retry.Headers.Location!.OriginalString);
        Assert.Null(browser.Cookie("gw_session"));
        using var replay = rig.Gateway.Browser();
        replay.SetCookie("gw_session", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
