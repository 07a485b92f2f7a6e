using OpenQA.Selenium;

namespace Gateway.Tests.MySessions;

/// <summary>"Your sessions": a user sees their own sessions and ends the one left open elsewhere, on every replica, and never anyone else's.</summary>
public sealed class MySessionsTests(SharedRedis redis)
{
    private const string Page = "/_gateway/my-sessions";
    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    private const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

    private static async Task<Browser> SignedInAsync(GatewayHost gateway, string user, string password, string userAgent)
    {
        var browser = gateway.Browser();
        browser.Http.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync(user, password)).StatusCode);
        return browser;
    }

    private static async Task<List<JsonElement>> ListAsync(Browser browser) =>
        (await browser.Http.GetFromJsonAsync<JsonElement>(Page)).GetProperty("sessions").EnumerateArray().ToList();

    private static Task<HttpResponseMessage> RevokeAsync(Browser browser, string field, string value, string? origin = "self")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Page + "/revoke") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { [field] = value }) };
        request.Headers.Accept.ParseAdd("application/json");
        if (origin is not null) request.Headers.Add("Origin", origin == "self" ? browser.BaseUrl : origin);
        return browser.Http.SendAsync(request);
    }

    [Fact]
    public async Task The_page_lists_each_live_session_with_browser_network_method_times_and_this_browser_never_an_id()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        using var phone = await SignedInAsync(rig.Gateway, "alice", "alice-password", IPhone);
        using var other = await SignedInAsync(rig.Gateway, "admin", "admin-password", Firefox);

        laptop.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var listed = await ListAsync(laptop);
        Assert.Equal(2, listed.Count);
        var mine = Assert.Single(listed, s => s.GetProperty("thisBrowser").GetBoolean());
        Assert.Equal("Firefox on Linux", mine.GetProperty("device").GetString());
        Assert.Equal("Safari on iOS", Assert.Single(listed, s => !s.GetProperty("thisBrowser").GetBoolean()).GetProperty("device").GetString());
        Assert.All(listed, s =>
        {
            Assert.Equal("127.0.0.0/24", s.GetProperty("network").GetString());
            Assert.Equal("dev", s.GetProperty("method").GetString());
            Assert.Matches("^[0-9a-f]{16}$", s.GetProperty("hash").GetString()!);
            Assert.Equal(0, s.GetProperty("lastUsedAt").GetDateTimeOffset().Second);
        });
        var raw = await laptop.Http.GetStringAsync(Page);
        Assert.DoesNotContain(laptop.Cookie("gw_session")!, raw);
        Assert.DoesNotContain(phone.Cookie("gw_session")!, raw);

        // The HTML page for a browser.
        laptop.Http.DefaultRequestHeaders.Accept.Clear();
        var html = await (await laptop.NavigateAsync(Page)).Content.ReadAsStringAsync();
        Assert.Contains("Safari on iOS", html);
        Assert.Contains("(this browser)", html);
        Assert.Contains("id=\"end-others\"", html);
    }

    [Fact]
    public async Task Ending_another_session_signs_it_out_on_every_replica_at_once()
    {
        var prefix = $"my{Guid.NewGuid():N}"[..10] + ":";
        var portA = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{portA}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration, prefix);
        await using var a = await GatewayHost.StartAsync(config, url: $"http://127.0.0.1:{portA}");
        await using var b = await GatewayHost.StartAsync(config);
        using var laptop = await SignedInAsync(a, "alice", "alice-password", Firefox);
        using var library = b.Browser();
        library.SetCookie("gw_session", (await SignedInAsync(a, "alice", "alice-password", IPhone)).Cookie("gw_session")!);
        // Replica B has the library session cached.
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await library.ApiGetAsync("/api/whoami")).StatusCode);

        laptop.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var target = Assert.Single(await ListAsync(laptop), s => !s.GetProperty("thisBrowser").GetBoolean()).GetProperty("hash").GetString()!;
        var response = await RevokeAsync(laptop, "session", target);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revoked").GetInt32());

        var refused = await Poll.Until(async () =>
            (await library.ApiGetAsync("/api/whoami")).StatusCode == HttpStatusCode.Unauthorized ? (bool?)true : null, 10_000);
        Assert.True(refused);
        Assert.Equal(HttpStatusCode.OK, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_user_can_never_see_or_end_someone_elses_session()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var alice = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        using var admin = await SignedInAsync(rig.Gateway, "admin", "admin-password", Firefox);
        alice.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        admin.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var aliceHash = Assert.Single(await ListAsync(alice)).GetProperty("hash").GetString()!;
        Assert.DoesNotContain(await ListAsync(admin), s => s.GetProperty("hash").GetString() == aliceHash);

        var response = await RevokeAsync(admin, "session", aliceHash);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("https://evil.example")]
    public async Task A_revoke_from_another_site_is_refused_and_ends_nothing(string? origin)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        using var phone = await SignedInAsync(rig.Gateway, "alice", "alice-password", IPhone);
        var response = await RevokeAsync(laptop, "others", "true", origin);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Ending_all_others_keeps_this_browser_and_this_browser_cannot_end_itself_here()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        using var phone = await SignedInAsync(rig.Gateway, "alice", "alice-password", IPhone);
        using var tablet = await SignedInAsync(rig.Gateway, "alice", "alice-password", IPhone);
        laptop.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var mine = Assert.Single(await ListAsync(laptop), s => s.GetProperty("thisBrowser").GetBoolean()).GetProperty("hash").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, (await RevokeAsync(laptop, "session", mine)).StatusCode);

        var response = await RevokeAsync(laptop, "others", "true");
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revoked").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tablet.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Anonymous_callers_are_sent_to_sign_in_and_the_store_down_answers_503()
    {
        await using var own = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var anonymous = rig.Gateway.Browser();
        var navigate = await anonymous.NavigateAsync(Page);
        Assert.Equal(HttpStatusCode.Found, navigate.StatusCode);
        Assert.Equal($"/login?returnUrl={Uri.EscapeDataString(Page)}", navigate.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.ApiGetAsync(Page)).StatusCode);

        using var alice = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        await own.StopAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await alice.ApiGetAsync(Page)).StatusCode);
    }

    [Fact]
    public async Task Recording_last_use_adds_no_redis_command_to_cached_requests()
    {
        await using var own = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var alice = await SignedInAsync(rig.Gateway, "alice", "alice-password", Firefox);
        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
        await using var mux = await own.ConnectAsync();
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        long Processed(string info) => long.Parse(info.Split('\n').Single(l => l.StartsWith("total_commands_processed:", StringComparison.Ordinal)).Split(':')[1].Trim());
        var before = Processed((string)(await server.ExecuteAsync("INFO", "stats"))!);
        for (var i = 0; i < 50; i++) Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
        var after = Processed((string)(await server.ExecuteAsync("INFO", "stats"))!);
        // The CMS stand-in's own session store and our two INFO calls may add a few; no command per gateway request.
        Assert.InRange(after - before, 0, 10);
    }

    [Fact]
    public async Task In_chromium_one_profile_ends_the_other_and_the_other_is_sent_to_sign_in()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var first = new HeadlessChromium();
        using var second = new HeadlessChromium();
        foreach (var driver in new[] { first.Driver, second.Driver })
        {
            driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin");
            driver.FindElement(By.Id("username")).SendKeys("alice");
            driver.FindElement(By.Id("password")).SendKeys("alice-password");
            driver.ClickAndWaitForNewPage(By.Id("signin"));
            Assert.Equal($"{rig.Gateway.BaseUrl}/admin", driver.Url);
        }

        first.Driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}{Page}");
        var rows = first.Driver.FindElements(By.CssSelector("tbody tr"));
        Assert.Equal(2, rows.Count);
        Assert.Single(rows, r => r.Text.Contains("(this browser)", StringComparison.Ordinal));
        first.Driver.ClickAndWaitForNewPage(rows.Single(r => !r.Text.Contains("(this browser)", StringComparison.Ordinal)).FindElement(By.CssSelector("button.end")));
        Assert.Equal($"{rig.Gateway.BaseUrl}{Page}", first.Driver.Url);
        Assert.Single(first.Driver.FindElements(By.CssSelector("tbody tr")));

        second.Driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin");
        Assert.StartsWith($"{rig.Gateway.BaseUrl}/login?returnUrl=%2Fadmin", second.Driver.Url);
        first.Driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin");
        Assert.Equal($"{rig.Gateway.BaseUrl}/admin", first.Driver.Url);
    }
}
