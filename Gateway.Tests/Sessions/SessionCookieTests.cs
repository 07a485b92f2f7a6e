using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

public sealed class SessionCookieTests(SharedRedis redis)
{
    public static TheoryData<string, string> HostileCookies => new()
    {
        { "empty", "" },
        { "garbage", "not-a-protected-value" },
        { "truncated", "<valid>|truncate" },
        { "tampered", "<valid>|flip" },
        { "foreign-keys", "<foreign>" },
        { "huge", new string('A', 5000) },
        { "base64-noise", "CfDJ8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
    };

    [Theory]
    [MemberData(nameof(HostileCookies))]
    public async Task Tampered_truncated_foreign_or_empty_cookie_is_anonymous_never_500_and_never_logged(string name, string value)
    {
        _ = name;
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var login = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var valid = login.Cookie("gw_session")!;
        if (value == "<foreign>")
        {
            // A cookie from another deployment: valid format, other DataProtection keys.
            await using var other = await GatewayHost.StartAsync(new GatewayConfig());
            using var otherBrowser = await other.SignedInBrowserAsync("alice", "alice-password");
            value = otherBrowser.Cookie("gw_session")!;
        }
        value = value switch
        {
            "<valid>|truncate" => valid[..(valid.Length / 2)],
            "<valid>|flip" => valid[..^4] + (valid[^4] == 'A' ? 'B' : 'A') + valid[^3..],
            _ => value,
        };

        // A raw Cookie header: CookieContainer refuses values over 4 KB, a hostile client does not.
        using var browser = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        browser.Http.DefaultRequestHeaders.TryAddWithoutValidation("Cookie", $"gw_session={value}");
        var nav = await browser.NavigateAsync("/admin");
        Assert.Equal(HttpStatusCode.Found, nav.StatusCode);
        Assert.Equal("/login?returnUrl=%2Fadmin", nav.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/x")).StatusCode);
        var publicPage = await browser.NavigateAsync("/whoami");
        Assert.Equal(HttpStatusCode.OK, publicPage.StatusCode);
        var seen = await publicPage.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(seen.GetProperty("headers").TryGetProperty("x-auth-user", out _));
        if (value.Length > 8) Assert.DoesNotContain(value, rig.Gateway.Logs.All);
        Assert.DoesNotContain(valid, rig.Gateway.Logs.All);
    }

    [Theory]
    [InlineData("flip-last")]
    [InlineData("flip-first")]
    [InlineData("append")]
    [InlineData("drop-last")]
    [InlineData("upper-case")]
    [InlineData("space-inside")]
    [InlineData("tab-inside")]
    [InlineData("padding")]
    public async Task A_value_next_to_a_remembered_cookie_is_verified_in_full_and_is_anonymous(string change)
    {
        // The upstream is down: a signed-in API request gets 502 from the proxy, an anonymous one 401 before it.
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig());
        using var login = await gateway.SignedInBrowserAsync("alice", "alice-password");
        var valid = login.Cookie("gw_session")!;
        using var remembered = new Browser(gateway.BaseUrl, useCookies: false);
        remembered.Http.DefaultRequestHeaders.TryAddWithoutValidation("Cookie", $"gw_session={valid}");
        Assert.Equal(HttpStatusCode.BadGateway, (await remembered.ApiGetAsync("/api/x")).StatusCode);

        var near = change switch
        {
            "flip-last" => valid[..^1] + (valid[^1] == 'A' ? 'B' : 'A'),
            "flip-first" => (valid[0] == 'A' ? 'B' : 'A') + valid[1..],
            "append" => valid + "A",
            "drop-last" => valid[..^1],
            "space-inside" => valid[..10] + " " + valid[10..],
            "tab-inside" => valid[..10] + "\t" + valid[10..],
            "padding" => valid + "==",
            _ => valid.ToUpperInvariant(),
        };
        using var attacker = new Browser(gateway.BaseUrl, useCookies: false);
        attacker.Http.DefaultRequestHeaders.TryAddWithoutValidation("Cookie", $"gw_session={near}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.ApiGetAsync("/api/x")).StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, (await remembered.ApiGetAsync("/api/x")).StatusCode);
    }

    [Fact]
    public async Task Https_from_a_trusted_proxy_gets_a_secure_host_prefixed_cookie()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1"));
        // The edge terminated TLS: the gateway sees http from a trusted proxy saying https. A Secure cookie is
        // not sent back over plain http by HttpClient, so this client carries the anti-forgery cookie itself.
        using var browser = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        browser.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var form = await browser.NavigateAsync("/login");
        // The form's anti-forgery cookie is __Host- prefixed too, so a sibling subdomain cannot plant one.
        var antiforgery = form.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-gw_af=", StringComparison.Ordinal));
        Assert.Contains("secure", antiforgery);
        var fields = Browser.HiddenFields(await form.Content.ReadAsStringAsync());
        fields["username"] = "alice";
        fields["password"] = "alice-password";
        var post = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(fields) };
        post.Headers.Add("Cookie", antiforgery.Split(';')[0]);
        var response = await browser.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.Contains("gw_session=", StringComparison.Ordinal));
        Assert.StartsWith("__Host-gw_session=", setCookie);
        Assert.Contains("secure", setCookie);
        Assert.Contains("path=/", setCookie);
        Assert.DoesNotContain("domain=", setCookie);
    }

    [Fact]
    public async Task X_Forwarded_Proto_from_an_untrusted_client_is_ignored()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        browser.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var response = await browser.LoginAsync("alice", "alice-password");
        Assert.True(response.StatusCode == HttpStatusCode.SeeOther, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.Contains("gw_session=", StringComparison.Ordinal));
        Assert.StartsWith("gw_session=", setCookie);
        Assert.DoesNotContain("secure", setCookie);
    }
}
