using Gateway.Sessions;

namespace Gateway.Tests.Login;

public sealed class DevLoginTests(SharedRedis redis)
{
    [Fact]
    public async Task Login_sets_an_httponly_lax_cookie_and_redirects_to_the_return_url()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.LoginAsync("alice", "alice-password", "/admin/page?x=1");
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/admin/page?x=1", response.Headers.Location!.OriginalString);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("gw_session=", StringComparison.Ordinal));
        Assert.Contains("httponly", setCookie);
        Assert.Contains("samesite=lax", setCookie);
        Assert.Contains("path=/", setCookie);
        Assert.DoesNotContain("secure", setCookie);

        var page = await (await browser.NavigateAsync("/admin")).Content.ReadAsStringAsync();
        Assert.Contains("Signed in as alice", page);
    }

    [Fact]
    public async Task Every_login_gets_a_new_session_id_and_ends_the_previous_session()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var first = browser.Cookie("gw_session")!;
        await browser.LoginAsync("alice", "alice-password");
        var second = browser.Cookie("gw_session")!;
        Assert.NotEqual(first, second);

        using var replay = rig.Gateway.Browser();
        replay.SetCookie("gw_session", first);
        Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
        using var current = rig.Gateway.Browser();
        current.SetCookie("gw_session", second);
        Assert.Equal(HttpStatusCode.OK, (await current.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Wrong_password_shows_the_form_again_with_a_generic_message_and_counts_a_failure()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.auth.failures");
        using var browser = rig.Gateway.Browser();
        foreach (var (user, password) in new[] { ("alice", "wrong"), ("nobody", "alice-password") })
        {
            var response = await browser.LoginAsync(user, password);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("Invalid user name or password.", await response.Content.ReadAsStringAsync());
            Assert.Null(browser.Cookie("gw_session"));
        }
        Assert.Equal(2, metrics.Sum("gateway.auth.failures", "reason=bad-credentials"));
        Assert.DoesNotContain("wrong", rig.Gateway.Logs.All);
    }

    [Fact]
    public async Task Too_many_attempts_for_one_user_and_address_get_429()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Login:AttemptsPerMinute", "3"));
        using var browser = rig.Gateway.Browser();
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await browser.LoginAsync("alice", "bad")).StatusCode);
        var limited = await browser.LoginAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("60", limited.Headers.RetryAfter!.ToString());
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task Login_post_without_the_antiforgery_token_is_refused()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.Http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "alice", ["password"] = "alice-password" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task Session_record_in_redis_exposes_no_email_role_or_name()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var mux = await redis.Server.ConnectAsync();
        var server = mux.GetServer(redis.Configuration);
        var keys = server.Keys(pattern: rig.KeyPrefix + "{u:*}:s:*").ToList();
        var value = (byte[])(await mux.GetDatabase().StringGetAsync(Assert.Single(keys)))!;
        var text = System.Text.Encoding.Latin1.GetString(value);
        Assert.DoesNotContain("alice", text);
        Assert.DoesNotContain("editor", text);
        Assert.DoesNotContain("example.test", text);
    }

    [Fact]
    public async Task Dev_users_are_refused_outside_development_unless_explicitly_allowed()
    {
        var config = new GatewayConfig().Set("Gateway:Login:AllowDevUsers", null);
        var ex = await Assert.ThrowsAsync<Gateway.Configuration.GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(config));
        Assert.Contains("Gateway:Login:DevUsers: dev users are configured outside Development", ex.Message);
    }
}
