namespace Gateway.Tests.Login;

/// <summary>OIDC code flow with PKCE against node oidc-provider, end to end through the gateway to the CMS.</summary>
public sealed class OidcLoginTests(SharedRedis redis)
{
    [Fact]
    public async Task Oidc_login_creates_a_session_and_the_cms_sees_the_verified_identity()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var (landing, _) = await rig.LoginAsync(browser, "jose");
        Assert.True(landing.StatusCode == HttpStatusCode.Found, rig.Gateway.Logs.All);
        Assert.Equal("/admin", landing.Headers.Location!.OriginalString);
        Assert.NotNull(browser.Cookie("gw_session"));

        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        var identity = seen.GetProperty("identity");
        Assert.True(identity.GetProperty("verified").GetBoolean(), identity.ToString());
        Assert.Equal("jose", identity.GetProperty("user").GetString());
        Assert.Equal("jose@example.test", identity.GetProperty("email").GetString());
        Assert.Equal("José Łukasz", identity.GetProperty("name").GetString());
        Assert.Equal("Jos%C3%A9 %C5%81ukasz", seen.GetProperty("headers").GetProperty("x-auth-name").GetString());
        Assert.Equal(["editor"], identity.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        // Tokens stay server-side: nothing of the id_token in any cookie the browser holds.
        Assert.All(browser.Cookies.GetAllCookies(), c => Assert.DoesNotContain("eyJ", c.Value));
    }

    [Fact]
    public async Task Claim_values_with_crlf_cannot_inject_headers()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "crlf");
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.Equal("Eve%0D%0AX-Auth-Roles: admin", seen.GetProperty("headers").GetProperty("x-auth-name").GetString());
        Assert.Equal("editor", seen.GetProperty("headers").GetProperty("x-auth-roles").GetString());
        Assert.Equal(["editor"], seen.GetProperty("identity").GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task The_oidc_handlers_signed_out_callback_is_answered_by_the_gateway_though_a_catch_all_route_matches_it()
    {
        // Proxy routes skip the framework's authentication middleware; the paths the OIDC handler answers from inside it must not.
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.NavigateAsync("/signout-callback-oidc");
        // The handler, given no state, ends the request with an empty 200; the CMS's catch-all page never answers it.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        var proxied = await browser.NavigateAsync("/signout-callback-oidc-not");
        Assert.NotEqual("", await proxied.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Abandoned_sign_ins_never_pile_up_flow_cookies_and_a_failed_callback_leaves_none()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        int FlowCookies() => browser.Cookies.GetAllCookies().Count(c => c.Name.StartsWith("gw_oidc_", StringComparison.Ordinal) && !c.Expired);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(HttpStatusCode.Found, (await browser.NavigateAsync("/login")).StatusCode);
            // Each start adds one flow (two cookies); past the open-flow cap the older ones go.
            Assert.InRange(FlowCookies(), 2, (Gateway.Login.GatewayOidcEvents.MaxOpenFlows + 1) * 2);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.NavigateAsync("/signin-oidc?code=forged&state=not-ours")).StatusCode);
        Assert.Equal(0, FlowCookies());
    }

    [Fact]
    public async Task Callback_with_a_bad_state_shows_an_error_page_and_creates_no_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.NavigateAsync("/signin-oidc?code=forged&state=not-ours");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no session was created", await response.Content.ReadAsStringAsync());
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task A_replayed_authorization_code_is_refused_and_creates_no_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var first = rig.Gateway.Browser();
        var (_, callback) = await rig.LoginAsync(first, "alice", stopAtCallback: true);
        Assert.NotNull(callback);
        var correlation = first.Cookies.GetAllCookies().Single(c => c.Name.StartsWith("gw_oidc_corr", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Found, (await first.Http.GetAsync(callback)).StatusCode);
        Assert.NotNull(first.Cookie("gw_session"));

        // An attacker who captured the callback URL and the correlation cookie replays both: the state is
        // valid, but the provider refuses a code that was already redeemed.
        using var attacker = rig.Gateway.Browser();
        attacker.SetCookie(correlation.Name, correlation.Value);
        var replay = await attacker.Http.GetAsync(callback);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Null(attacker.Cookie("gw_session"));

        // The same browser replaying it (correlation cookie already consumed) gets the error page too.
        var again = await first.Http.GetAsync(callback);
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);

        // The provider's refusal is logged by its error code only, never its response body.
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "OidcLoginFailed" && l.Message.Contains("provider error: invalid_grant", StringComparison.Ordinal));
        Assert.DoesNotContain("grant request is invalid", rig.Gateway.Logs.All);
        Assert.DoesNotContain("error_description", rig.Gateway.Logs.All);
    }

    [Fact]
    public async Task A_discovery_document_naming_another_issuer_is_refused_and_login_answers_503()
    {
        // The same provider reached under another name: its document says issuer http://127.0.0.1:PORT.
        await using var rig = await OidcRig.StartAsync(redis.Configuration, c =>
            c.Set("Gateway:Login:Oidc:Authority", c.Settings["Gateway:Login:Oidc:Authority"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)));
        using var browser = rig.Gateway.Browser();
        var response = await browser.NavigateAsync("/login?returnUrl=/admin");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Null(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task Login_with_the_provider_down_answers_503_not_500()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        await rig.Idp.DisposeAsync();
        using var browser = rig.Gateway.Browser();
        var response = await browser.NavigateAsync("/login?returnUrl=/admin");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("identity provider cannot be reached", await response.Content.ReadAsStringAsync());
    }
}
