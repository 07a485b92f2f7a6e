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
        using var browser = rig.Gateway.Browser();
        await browser.LoginAsync("alice", "alice-password");
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

        // An anonymous browser on a protected route still gets the login redirect: no store needed to know that.
        Assert.Equal(HttpStatusCode.Found, (await anonymous.NavigateAsync("/admin")).StatusCode);

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        output.WriteLine($"20 protected requests during the outage took {watch.Elapsed.TotalMilliseconds:0} ms ({watch.Elapsed.TotalMilliseconds / 20:0.0} ms each)");
    }

    [Fact]
    public async Task Logout_with_redis_down_keeps_cookie_and_returns_503_then_the_retry_purges()
    {
        await using var own = await RedisServer.StartAsync(persistent: true);
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var browser = rig.Gateway.Browser();
        await browser.LoginAsync("alice", "alice-password");
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
        var retry = await LiveReloadTestsAccess.Eventually(async () =>
        {
            var response = await browser.Http.PostAsync("/logout", new FormUrlEncodedContent(Browser.HiddenFields(retryPage)));
            attempts.Add($"{(int)response.StatusCode}");
            return response.StatusCode == HttpStatusCode.SeeOther ? response : null;
        }, 15_000);
        Assert.True(retry is not null, string.Join(",", attempts.Distinct()) + "\n" + rig.Gateway.Logs.All[^3000..]);
        Assert.Equal("/", retry.Headers.Location!.OriginalString);
        Assert.Null(browser.Cookie("gw_session"));
        using var replay = rig.Gateway.Browser();
        replay.SetCookie("gw_session", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
