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
