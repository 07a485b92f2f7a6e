using System.Text.RegularExpressions;

namespace Gateway.Tests.LegacySignIn;

/// <summary>
/// The CMS signs in whoever the gateway signed in, with no change to it: a real Express + Passport CMS that trusts only
/// its own session, on the shared Redis, behind the gateway.
/// </summary>
public sealed partial class LegacySignInTests(SharedRedis redis)
{
    private static async Task<CmsWho> WhoThroughGatewayAsync(Browser browser) =>
        (await (await browser.ApiGetAsync("/whoami")).Content.ReadFromJsonAsync<CmsWho>())!;

    [Fact]
    public async Task Signed_in_at_the_gateway_the_cms_sees_the_user_through_its_own_passport_session()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");

        var page = await (await browser.NavigateAsync("/admin")).Content.ReadAsStringAsync();
        Assert.Contains("<h1 id=\"who\">Signed in as alice</h1>", page);
        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal("alice", who.User);
        // The id keeps its JSON type: the CMS's serializeUser stored the number 1, so must the gateway.
        Assert.Equal(JsonValueKind.Number, who.Id.ValueKind);
        Assert.Equal(1, who.Id.GetInt32());
        // The browser never holds the CMS cookie.
        Assert.DoesNotContain(browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)), c => c.Name == "connect.sid");
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSignedIn");
    }

    [Fact]
    public async Task The_record_the_gateway_writes_is_laid_out_as_express_session_and_connect_redis_write_it()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal(32, who.SessionId.Length);
        var ours = await rig.CmsRecordAsync(who.SessionId);
        Assert.Matches(RecordShape(), ours);
        // The CMS's own record of a session it signed in itself has the same shape, key for key, in the same order.
        var cookie = await rig.SignInAtCmsDirectlyAsync("alice", "cms-alice");
        var theirs = await rig.CmsRecordAsync((await rig.AskCmsDirectlyAsync(cookie)).SessionId);
        Assert.Equal("{\"cookie\":{\"originalMaxAge\":null,\"expires\":null,\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":1}}", theirs);
        // Its life is the gateway session's idle timeout (20 min by default), which the CMS itself slides on each request.
        Assert.InRange((await rig.CmsRecordTimeToLiveAsync(who.SessionId))!.Value, TimeSpan.FromMinutes(20) - TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(20) + TimeSpan.FromSeconds(1));
        Assert.Contains("\"originalMaxAge\":1200000,", ours);
    }

    [GeneratedRegex("""^\{"cookie":\{"originalMaxAge":\d+,"expires":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","httpOnly":true,"path":"/"\},"passport":\{"user":1\}\}$""")]
    private static partial Regex RecordShape();

    [Fact]
    public async Task Without_HoldCookie_the_browser_holds_the_signed_cms_cookie_and_logout_clears_it()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:LegacySignIn:HoldCookie", "false"));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var held = browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)).Single(c => c.Name == "connect.sid");
        Assert.True(held.HttpOnly);
        Assert.Equal("/", held.Path);
        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal("alice", who.User);
        Assert.Equal(LegacyCmsRig.CmsCookie(who.SessionId), "connect.sid=" + held.Value);
        Assert.Equal("alice", (await rig.AskCmsDirectlyAsync("connect.sid=" + held.Value)).User);

        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.DoesNotContain(browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)), c => c.Name == "connect.sid");
        Assert.Null(await rig.CmsRecordAsync(who.SessionId));
    }

    [Fact]
    public async Task When_the_cms_rotates_its_session_for_the_same_user_the_gateway_follows_and_the_browser_never_sees_the_cookie()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var before = (await WhoThroughGatewayAsync(browser)).SessionId;
        var rotate = await browser.Http.PostAsync("/cms/rotate", null);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        Assert.False(rotate.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.StartsWith("connect.sid", StringComparison.OrdinalIgnoreCase)));
        var rotated = (await rotate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionID").GetString();
        Assert.NotEqual(before, rotated);

        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal("alice", who.User);
        Assert.Equal(rotated, who.SessionId);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSessionFollowed");
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Null(await rig.CmsRecordAsync(rotated!));
    }

    [Fact]
    public async Task A_string_cms_user_id_stays_a_string()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c
            .Set("Gateway:Login:DevUsers:3:Name", "string-id").Set("Gateway:Login:DevUsers:3:Password", "pw-string-id"));
        using var browser = await rig.Gateway.SignedInBrowserAsync("string-id", "pw-string-id");
        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal("string-id", who.User);
        Assert.Equal("u-77", who.Id.GetString());
    }

    [Fact]
    public async Task A_record_deleted_behind_the_gateways_back_is_written_again_and_the_user_stays_signed_in()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:CacheDuration", "00:00:01"));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await WhoThroughGatewayAsync(browser)).SessionId;
        await rig.DeleteCmsRecordAsync(sessionId);
        await Task.Delay(1200);
        var who = await WhoThroughGatewayAsync(browser);
        Assert.Equal("alice", who.User);
        Assert.Equal(sessionId, who.SessionId);
        Assert.NotNull(await rig.CmsRecordAsync(sessionId));
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSessionRewritten");
    }

    [Fact]
    public async Task The_cms_own_logout_link_does_not_leave_a_guest_in_the_middle_of_a_gateway_session_when_not_intercepted()
    {
        // The CMS destroys its record on its own (an admin, its TTL): the next check writes it again.
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:CacheDuration", "00:00:01"));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var first = await WhoThroughGatewayAsync(browser);
        await rig.DeleteCmsRecordAsync(first.SessionId);
        // Within CacheDuration the CMS may see a guest once; after it, the user is signed in again on any request.
        await Task.Delay(1200);
        Assert.Equal("alice", (await WhoThroughGatewayAsync(browser)).User);
        Assert.Equal("alice", (await WhoThroughGatewayAsync(browser)).User);
    }

    [Fact]
    public async Task A_cms_cookie_the_browser_sends_itself_is_removed_whoever_it_names()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        var mallorys = await rig.SignInAtCmsDirectlyAsync("mallory", "cms-mallory");
        Assert.Equal("mallory", (await rig.AskCmsDirectlyAsync(mallorys)).User);

        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        foreach (var variant in new[] { mallorys, mallorys.Replace("connect.sid", "CONNECT.SID", StringComparison.Ordinal) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
            request.Headers.Add("Cookie", variant);
            var who = (await (await browser.Http.SendAsync(request)).Content.ReadFromJsonAsync<CmsWho>())!;
            Assert.Equal("alice", who.User);
        }
        // Anonymous, with adoption off: the planted CMS session never reaches the CMS either.
        using var anonymous = rig.Gateway.Browser();
        using var planted = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        planted.Headers.Add("Cookie", mallorys);
        Assert.Null((await (await anonymous.Http.SendAsync(planted)).Content.ReadFromJsonAsync<CmsWho>())!.User);
    }

    [Fact]
    public async Task Logout_deletes_the_cms_record_and_the_old_cms_cookie_replayed_at_the_cms_is_a_guest()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await WhoThroughGatewayAsync(browser)).SessionId;
        var captured = LegacyCmsRig.CmsCookie(sessionId);
        Assert.Equal("alice", (await rig.AskCmsDirectlyAsync(captured)).User);

        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Null(await rig.CmsRecordAsync(sessionId));
        Assert.Null((await rig.AskCmsDirectlyAsync(captured)).User);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSessionEnded");
    }

    [Fact]
    public async Task The_cms_own_logout_path_is_intercepted_and_ends_both_sessions()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await WhoThroughGatewayAsync(browser)).SessionId;
        var response = await browser.NavigateAsync("/cms-logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Null(await rig.CmsRecordAsync(sessionId));
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/admin")).StatusCode);
    }

    [Fact]
    public async Task Logging_out_everywhere_deletes_the_cms_record_of_every_session_of_the_user()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var first = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var second = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var firstId = (await WhoThroughGatewayAsync(first)).SessionId;
        var secondId = (await WhoThroughGatewayAsync(second)).SessionId;
        Assert.NotEqual(firstId, secondId);
        using var everywhere = new HttpRequestMessage(HttpMethod.Post, "/logout") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["scope"] = "all" }) };
        everywhere.Headers.Add("Origin", rig.Gateway.BaseUrl);
        Assert.Equal(HttpStatusCode.SeeOther, (await second.Http.SendAsync(everywhere)).StatusCode);
        Assert.Null(await rig.CmsRecordAsync(firstId));
        Assert.Null(await rig.CmsRecordAsync(secondId));
    }

    [Fact]
    public async Task A_user_the_cms_does_not_know_is_not_signed_in_and_sees_why()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.LoginAsync("ghost", "ghost-password");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("your account at the CMS could not be found", await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)), c => c.Name == "gw_session");
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/admin")).StatusCode);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSignInRefused");
    }

    [Fact]
    public async Task Two_replicas_share_the_cms_session_and_either_writes_it_again()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:CacheDuration", "00:00:01"));
        await using var second = await GatewayHost.StartAsync(rig.Config);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await WhoThroughGatewayAsync(browser)).SessionId;
        using var onSecond = new Browser(second.BaseUrl);
        foreach (Cookie cookie in browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl))) onSecond.Cookies.Add(new Uri(second.BaseUrl), new Cookie(cookie.Name, cookie.Value, "/"));
        Assert.Equal("alice", (await WhoThroughGatewayAsync(onSecond)).User);

        await rig.DeleteCmsRecordAsync(sessionId);
        await Task.Delay(1200);
        Assert.Equal("alice", (await WhoThroughGatewayAsync(onSecond)).User);
        Assert.NotNull(await rig.CmsRecordAsync(sessionId));
        // Logout on the first replica ends the CMS session the second one wrote again.
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Null(await rig.CmsRecordAsync(sessionId));
    }

    [Fact]
    public async Task With_the_cms_redis_down_signed_in_requests_get_503_and_the_gateway_session_survives()
    {
        await using var cmsRedis = await RedisServer.StartAsync();
        var cms = await LegacyCmsRig.StartCmsAsync(cmsRedis.Configuration);
        await using var _ = cms;
        var config = LegacyCmsRig.Configure(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration), cms.BaseUrl)
            .Set("Gateway:LegacySignIn:Redis:Configuration", cmsRedis.Configuration)
            .Set("Gateway:Session:CacheDuration", "00:00:01");
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal("alice", (await WhoThroughGatewayAsync(browser)).User);

        await cmsRedis.StopAsync();
        await Task.Delay(1200);
        var refused = await browser.ApiGetAsync("/whoami");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("session_store_unavailable", await refused.Content.ReadAsStringAsync());
        // The gateway's own routes still know the user.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/_gateway/my-sessions")).StatusCode);

        await cmsRedis.StartAgainAsync();
        var back = await Poll.Until(async () => (await browser.ApiGetAsync("/whoami")) is { StatusCode: HttpStatusCode.OK } ok ? ok : null);
        Assert.NotNull(back);
        Assert.Equal("alice", (await back.Content.ReadFromJsonAsync<CmsWho>())!.User);
    }

    [Fact]
    public async Task Revoking_every_session_deletes_every_cms_record_the_gateway_holds()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var admin = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        var ids = new[] { (await WhoThroughGatewayAsync(alice)).SessionId, (await WhoThroughGatewayAsync(admin)).SessionId };
        // A session the CMS signed in itself, which the gateway does not hold, is not the gateway's to end.
        var own = (await rig.AskCmsDirectlyAsync(await rig.SignInAtCmsDirectlyAsync("mallory", "cms-mallory"))).SessionId;

        await rig.Gateway.Services.GetRequiredService<Gateway.Sessions.SessionManager>().RevokeAllAsync("test", CancellationToken.None);
        foreach (var id in ids) Assert.Null(await rig.CmsRecordAsync(id));
        Assert.NotNull(await rig.CmsRecordAsync(own));
    }

    [Fact]
    public async Task The_cms_record_of_a_gateway_session_that_expired_idle_is_deleted_by_the_sweep_and_a_live_ones_is_kept()
    {
        var clock = new FakeClock();
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:LegacySignIn:SweepInterval", "00:00:00.200"), time: clock);
        using var idle = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var idleId = (await WhoThroughGatewayAsync(idle)).SessionId;

        // Past the idle timeout (20 min) and the cache duration: that session expired idle; a new one starts now.
        clock.Advance(TimeSpan.FromMinutes(21));
        using var live = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        var liveId = (await WhoThroughGatewayAsync(live)).SessionId;

        Assert.True(await Poll.Until(async () => await rig.CmsRecordAsync(idleId) is null ? "gone" : null, 15_000) is not null);
        Assert.NotNull(await rig.CmsRecordAsync(liveId));
        Assert.Equal("admin", (await WhoThroughGatewayAsync(live)).User);
        // The sweep logs once its deletes are done, a moment after the record is gone.
        Assert.True(await Poll.Until(() => Task.FromResult(rig.Gateway.Logs.Lines.Any(l => l.Event.Name == "CmsSessionsSwept") ? "logged" : null), 15_000) is not null);
    }

    [Fact]
    public async Task Logout_with_the_cms_redis_down_answers_503_keeps_the_session_and_the_retry_ends_both()
    {
        await using var cmsRedis = await RedisServer.StartAsync(persistent: true);
        var cms = await LegacyCmsRig.StartCmsAsync(cmsRedis.Configuration);
        await using var _ = cms;
        var config = LegacyCmsRig.Configure(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration), cms.BaseUrl)
            .Set("Gateway:LegacySignIn:Redis:Configuration", cmsRedis.Configuration);
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await WhoThroughGatewayAsync(browser)).SessionId;

        await cmsRedis.StopAsync();
        var refused = await browser.PostSameOriginAsync("/logout");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("logout-unavailable", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/_gateway/my-sessions")).StatusCode);

        // The CMS Redis comes back with its data: the retry ends the gateway session and the CMS one.
        await cmsRedis.StartAgainAsync();
        Assert.NotNull(await new LegacyCmsRig.Probe(cmsRedis.Configuration).RecordAsync(sessionId));
        var retried = await Poll.Until(async () => await browser.PostSameOriginAsync("/logout") is { StatusCode: HttpStatusCode.SeeOther } ok ? ok : null);
        Assert.NotNull(retried);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/_gateway/my-sessions")).StatusCode);
        Assert.Null(await new LegacyCmsRig.Probe(cmsRedis.Configuration).RecordAsync(sessionId));
    }

    [Fact]
    public async Task Only_the_cms_clusters_receive_the_held_cms_cookie()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c =>
        {
            var cms = c.UpstreamUrl;
            c.ProxyJson = $$"""
                {
                  "ReverseProxy": {
                    "Routes": {
                      "other": { "ClusterId": "reports", "AuthorizationPolicy": "default", "Match": { "Path": "/reports/{**rest}" }, "Transforms": [ { "PathRemovePrefix": "/reports" } ] },
                      "cms-all": { "ClusterId": "cms", "AuthorizationPolicy": "anonymous", "Order": 100, "Match": { "Path": "{**catch-all}" } }
                    },
                    "Clusters": {
                      "cms": { "Destinations": { "primary": { "Address": "{{cms}}" } } },
                      "reports": { "Destinations": { "primary": { "Address": "{{cms}}" } } }
                    }
                  }
                }
                """;
            c.Set("Gateway:LegacySignIn:Clusters:0", "cms");
        });
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal("alice", (await WhoThroughGatewayAsync(browser)).User);
        // Another service behind the gateway (here the same app under another cluster id) never sees the CMS session.
        var other = (await (await browser.ApiGetAsync("/reports/whoami")).Content.ReadFromJsonAsync<CmsWho>())!;
        Assert.Null(other.User);
    }
}
