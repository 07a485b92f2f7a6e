namespace Gateway.Tests.Security;

/// <summary>
/// Cookie names are case-sensitive (RFC 6265) and the gateway's cookies never pass in either direction:
/// a planted or upstream-set variant never decides who a request is. The gateway's forms refuse cross-site
/// posts and malformed bodies with a clear answer.
/// </summary>
public sealed class CookieAndFormAttackTests(SharedRedis redis)
{
    public static TheoryData<string> GatewayCookieVariants => new()
    {
        "GW_SESSION", "Gw_Session", "__HOST-GW_SESSION", "__host-gw_session", "__Secure-gw_session", "GW_AF", "__Host-gw_af", "gw_oidc_corr.x", "GW_OIDC_NONCE.y",
        // Browsers trim a tab after the name, and store a nameless cookie by its value's first part.
        "__Host-gw_session\t", "gw_session\t", "=gw_session", "=__Host-gw_session",
    };

    [Theory]
    [MemberData(nameof(GatewayCookieVariants))]
    public async Task An_upstream_cannot_set_any_case_variant_of_a_gateway_cookie(string name)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.Http.GetAsync($"/set-cookie?names={Uri.EscapeDataString(name)},cms_pref");
        Assert.Equal(["cms_pref=from-upstream; Path=/"], response.Headers.GetValues("Set-Cookie").ToList());
    }

    [Fact]
    public async Task A_case_variant_carrying_a_valid_session_is_anonymous_and_never_reaches_the_upstream()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var attacker = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        var adminSession = attacker.Cookie("gw_session")!;

        // Planted by an upstream or a sibling subdomain under another spelling of the name.
        using var victim = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        var api = new HttpRequestMessage(HttpMethod.Get, "/api/whoami");
        api.Headers.Add("Accept", "application/json");
        api.Headers.Add("Cookie", $"GW_SESSION={adminSession}; __HOST-GW_SESSION={adminSession}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await victim.Http.SendAsync(api)).StatusCode);

        var publicPage = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        publicPage.Headers.Add("Cookie", $"GW_SESSION={adminSession}; theme=dark; Gw_Af=x");
        var seen = await (await victim.Http.SendAsync(publicPage)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(seen.GetProperty("identity").GetProperty("verified").GetBoolean());
        Assert.Equal("theme=dark", seen.GetProperty("headers").GetProperty("cookie").GetString());
    }

    [Fact]
    public async Task A_second_session_cookie_makes_the_request_anonymous_and_logout_ends_both()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var attacker = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        using var victim = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var planted = attacker.Cookie("gw_session")!;
        var own = victim.Cookie("gw_session")!;

        foreach (var order in new[] { $"gw_session={planted}; gw_session={own}", $"gw_session={own}; gw_session={planted}" })
        {
            using var raw = new Browser(rig.Gateway.BaseUrl, useCookies: false);
            var request = new HttpRequestMessage(HttpMethod.Get, "/api/whoami");
            request.Headers.Add("Accept", "application/json");
            request.Headers.Add("Cookie", order);
            Assert.Equal(HttpStatusCode.Unauthorized, (await raw.Http.SendAsync(request)).StatusCode);
        }

        using var both = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        var logout = new HttpRequestMessage(HttpMethod.Get, "/logout");
        logout.Headers.Add("Sec-Fetch-Site", "same-origin");
        logout.Headers.Add("Cookie", $"gw_session={planted}; gw_session={own}");
        Assert.Equal(HttpStatusCode.Found, (await both.Http.SendAsync(logout)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await victim.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Theory]
    [InlineData("cross-site")]
    [InlineData("same-site")]
    public async Task A_login_post_from_another_site_is_refused_and_creates_no_session(string site)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var fields = Browser.HiddenFields(await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
        fields["username"] = "alice";
        fields["password"] = "alice-password";
        var post = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(fields) };
        post.Headers.Add("Sec-Fetch-Site", site);
        var response = await browser.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("the sign-in form of this site", await response.Content.ReadAsStringAsync());
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Theory]
    [InlineData("username")]
    [InlineData("password")]
    [InlineData("returnUrl")]
    [InlineData("__gw_af")]
    public async Task A_nul_in_any_login_field_answers_400_with_the_form_not_a_500(string field)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var fields = Browser.HiddenFields(await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
        fields["username"] = "alice";
        fields["password"] = "alice-password";
        fields[field] = (fields.GetValueOrDefault(field) ?? "x") + "\0";
        var response = await browser.Http.PostAsync("/login", new FormUrlEncodedContent(fields));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.Contains("id=\"username\"", body);
        Assert.DoesNotContain("Exception", body);
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task A_nul_in_the_logout_form_still_offers_the_logout_and_keeps_the_session_until_confirmed()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var request = new HttpRequestMessage(HttpMethod.Post, "/logout") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/\0" }) };
        request.Headers.Add("Origin", rig.Gateway.BaseUrl);
        var response = await browser.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}");
        Assert.Contains("id=\"confirm-logout\"", body);

        var confirm = await browser.Http.PostAsync("/logout", new FormUrlEncodedContent(Browser.HiddenFields(body)));
        Assert.Equal(HttpStatusCode.SeeOther, confirm.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
