namespace Gateway.Tests.Security;

/// <summary>
/// Audit round two, finding 3: with <c>Gateway:Session:CookieDomain</c> set, a sibling subdomain that plants its own
/// session cookie for the parent domain cannot put a browser into the attacker's session: each session is bound to
/// this host by a host-only companion cookie (<c>__Host-gw_bind</c> on https), checked against the session record.
/// Browsers are simulated by the Cookie header they would send.
/// </summary>
public sealed class CookieTossingTests(SharedRedis redis)
{
    private sealed record SignedIn(string Session, string Binding);

    private static async Task<SignedIn> SignInAsync(CmsRig rig, bool https, string user, string password)
    {
        using var browser = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        if (https) browser.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var form = await browser.NavigateAsync("/login");
        var antiforgery = form.Headers.GetValues("Set-Cookie").Single(c => c.Contains("gw_af=", StringComparison.Ordinal)).Split(';')[0];
        var fields = Browser.HiddenFields(await form.Content.ReadAsStringAsync());
        fields["username"] = user;
        fields["password"] = password;
        var post = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(fields) };
        post.Headers.Add("Cookie", antiforgery);
        var response = await browser.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var set = response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).ToList();
        return new SignedIn(set.Single(c => c.Contains("gw_session=", StringComparison.Ordinal)), set.Single(c => c.Contains("gw_bind=", StringComparison.Ordinal)));
    }

    private static async Task<HttpStatusCode> AsBrowserAsync(CmsRig rig, bool https, params string[] cookies)
    {
        using var browser = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        if (https) browser.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/whoami");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Add("Cookie", string.Join("; ", cookies));
        return (await browser.Http.SendAsync(request)).StatusCode;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_session_cookie_planted_by_a_sibling_never_puts_the_victim_in_the_attackers_session(bool https)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c
            .Set("Gateway:Session:CookieDomain", "example.test").Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1"));
        var victim = await SignInAsync(rig, https, "alice", "alice-password");
        var attacker = await SignInAsync(rig, https, "admin", "admin-password");
        if (https) Assert.StartsWith("__Host-gw_bind=", victim.Binding);

        // Each with its own pair is itself.
        Assert.Equal(HttpStatusCode.OK, await AsBrowserAsync(rig, https, victim.Session, victim.Binding));
        Assert.Equal(HttpStatusCode.OK, await AsBrowserAsync(rig, https, attacker.Session, attacker.Binding));
        // Both session cookies, in either order: neither decides.
        Assert.Equal(HttpStatusCode.Unauthorized, await AsBrowserAsync(rig, https, victim.Session, attacker.Session, victim.Binding));
        Assert.Equal(HttpStatusCode.Unauthorized, await AsBrowserAsync(rig, https, attacker.Session, victim.Session, victim.Binding));
        // The planted cookie overwrote the victim's (same name, domain, path): the victim's companion does not match it.
        Assert.Equal(HttpStatusCode.Unauthorized, await AsBrowserAsync(rig, https, attacker.Session, victim.Binding));
        // A fresh browser given only the attacker's session cookie.
        Assert.Equal(HttpStatusCode.Unauthorized, await AsBrowserAsync(rig, https, attacker.Session));
    }

    [Fact]
    public async Task Without_a_cookie_domain_nothing_changes_and_no_companion_is_set()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.DoesNotContain(browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)), c => c.Name.Contains("gw_bind", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }
}

/// <summary>
/// The login CSRF a sibling subdomain could run through the OpenID Connect callback: it starts a sign-in as itself,
/// stops at the callback, plants that flow's correlation and nonce cookies in the victim's browser for the parent
/// domain, and sends the victim to its callback URL. On https the flow cookies are <c>__Host-</c>, which a sibling
/// cannot set, so the callback finds no flow of this browser's and signs nobody in.
/// </summary>
public sealed class OidcCallbackTossingTests(SharedRedis redis)
{
    [Fact]
    public async Task A_sibling_planting_its_own_flow_cookies_cannot_sign_a_victim_in_to_its_account_through_the_callback()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1"));
        using var attacker = rig.Gateway.Browser();
        attacker.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var (_, callback) = await rig.LoginAsync(attacker, "mallory", stopAtCallback: true);
        Assert.NotNull(callback);
        var flow = attacker.Cookies.GetAllCookies().Where(c => c.Name.Contains("gw_oidc_", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, flow.Count);

        // What a sibling can set for the parent domain: the same names and values, without the __Host- prefix.
        var planted = string.Join("; ", flow.Select(c => c.Name.Replace("__Host-", "", StringComparison.Ordinal) + "=" + c.Value));
        var atVictim = await CallbackAsync(rig, callback.PathAndQuery, planted);
        Assert.Equal(HttpStatusCode.BadRequest, atVictim.StatusCode);
        Assert.Contains("no session was created", await atVictim.Content.ReadAsStringAsync());
        Assert.False(atVictim.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.Contains("gw_session", StringComparison.Ordinal)));

        // The flow cookies are host-only by construction, and the flow itself was sound: its own browser completes it.
        Assert.All(flow, c => Assert.StartsWith("__Host-", c.Name, StringComparison.Ordinal));
        Assert.All(flow, c => Assert.Equal("/", c.Path));
        var atAttacker = await CallbackAsync(rig, callback.PathAndQuery, string.Join("; ", flow.Select(c => c.Name + "=" + c.Value)));
        Assert.Equal(HttpStatusCode.Found, atAttacker.StatusCode);
        Assert.Contains(atAttacker.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Host-gw_session=", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("on http")]
    [InlineData("as __host-")]
    public async Task A_sibling_cannot_finish_its_https_flow_in_a_victims_browser_on_http_or_under_a_case_variant_name(string variant)
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1"));
        using var attacker = rig.Gateway.Browser();
        attacker.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var (_, callback) = await rig.LoginAsync(attacker, "mallory", stopAtCallback: true);
        var flow = attacker.Cookies.GetAllCookies().Where(c => c.Name.Contains("gw_oidc_", StringComparison.Ordinal)).ToList();

        // On http the handler reads the unprefixed names, which a sibling can plant; "__host-" is a name some browsers
        // let a sibling set, and the framework's cookie lookup ignores case.
        var planted = variant == "on http"
            ? string.Join("; ", flow.Select(c => c.Name.Replace("__Host-", "", StringComparison.Ordinal) + "=" + c.Value))
            : string.Join("; ", flow.Select(c => c.Name.Replace("__Host-", "__host-", StringComparison.Ordinal) + "=" + c.Value));
        var atVictim = await CallbackAsync(rig, callback!.PathAndQuery, planted, https: variant != "on http");

        Assert.Equal(HttpStatusCode.BadRequest, atVictim.StatusCode);
        Assert.False(atVictim.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.Contains("gw_session", StringComparison.Ordinal)));
    }

    private static async Task<HttpResponseMessage> CallbackAsync(OidcRig rig, string pathAndQuery, string cookies, bool https = true)
    {
        using var browser = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        if (https) browser.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Add("Cookie", cookies);
        return await browser.Http.SendAsync(request);
    }
}
