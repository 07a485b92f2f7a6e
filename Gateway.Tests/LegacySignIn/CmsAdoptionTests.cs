namespace Gateway.Tests.LegacySignIn;

/// <summary>Cut-over: a user signed in at the CMS before the gateway went in stays signed in; nothing else is adopted.</summary>
public sealed class CmsAdoptionTests(SharedRedis redis)
{
    private static Action<GatewayConfig> Adopting(string? until = null) => c =>
    {
        c.Set("Gateway:LegacySignIn:Adopt:Enabled", "true");
        if (until is not null) c.Set("Gateway:LegacySignIn:Adopt:Until", until);
    };

    private static async Task<HttpResponseMessage> GetWithCmsCookieAsync(Browser browser, string path, string cmsCookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Add("Cookie", cmsCookie);
        return await browser.Http.SendAsync(request);
    }

    [Fact]
    public async Task A_session_signed_in_at_the_cms_directly_becomes_a_gateway_session_marked_adopted()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, Adopting());
        var cmsCookie = await rig.SignInAtCmsDirectlyAsync("alice", "cms-alice");
        var cmsSessionId = (await rig.AskCmsDirectlyAsync(cmsCookie)).SessionId;
        using var browser = new Browser(rig.Gateway.BaseUrl);

        var response = await GetWithCmsCookieAsync(browser, "/admin/whoami-page", cmsCookie);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Signed in as alice", await response.Content.ReadAsStringAsync());
        // The gateway cookie is set; the browser gives up the CMS cookie, which the gateway session holds from now on.
        var setCookies = response.Headers.GetValues("Set-Cookie").ToList();
        Assert.Contains(setCookies, c => c.StartsWith("gw_session=", StringComparison.Ordinal));
        Assert.Contains(setCookies, c => c.StartsWith("connect.sid=;", StringComparison.Ordinal) && c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase));

        // The next request rides on the gateway session alone. The CMS session moved to a new id (what the user had in it
        // moved along): the cookie the browser had, and every copy of it, names nothing any more.
        var who = (await (await browser.ApiGetAsync("/whoami")).Content.ReadFromJsonAsync<CmsWho>())!;
        Assert.Equal("alice", who.User);
        Assert.NotEqual(cmsSessionId, who.SessionId);
        Assert.Null(await rig.CmsRecordAsync(cmsSessionId));
        Assert.Null((await rig.AskCmsDirectlyAsync(cmsCookie)).User);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetWithCmsCookieAsync(new Browser(rig.Gateway.BaseUrl), "/admin", cmsCookie)).StatusCode);
        cmsSessionId = who.SessionId;
        var mine = await (await browser.ApiGetAsync("/_gateway/my-sessions")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("adopted", mine.GetProperty("sessions")[0].GetProperty("method").GetString());
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSessionAdopted");

        // Logout ends the adopted CMS session too.
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Null(await rig.CmsRecordAsync(cmsSessionId));
    }

    [Theory]
    [InlineData("forged-signature")]
    [InlineData("guest-record")]
    [InlineData("no-record")]
    [InlineData("unknown-user")]
    [InlineData("past-until")]
    public async Task Nothing_is_adopted_from(string what)
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, Adopting(what == "past-until" ? "2020-01-31" : null));
        var sessionId = Guid.NewGuid().ToString("N");
        string cookie;
        switch (what)
        {
            case "forged-signature":
                await rig.WriteCmsRecordAsync(sessionId, "{\"cookie\":{\"originalMaxAge\":null,\"expires\":null,\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":2}}");
                cookie = LegacyCmsRig.CmsCookie(sessionId, secret: "not-the-cms-secret");
                break;
            case "guest-record":
                await rig.WriteCmsRecordAsync(sessionId, "{\"cookie\":{\"originalMaxAge\":null,\"expires\":null,\"httpOnly\":true,\"path\":\"/\"}}");
                cookie = LegacyCmsRig.CmsCookie(sessionId);
                break;
            case "no-record":
                cookie = LegacyCmsRig.CmsCookie(sessionId);
                break;
            case "unknown-user":
                await rig.WriteCmsRecordAsync(sessionId, "{\"cookie\":{\"originalMaxAge\":null,\"expires\":null,\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":999}}");
                cookie = LegacyCmsRig.CmsCookie(sessionId);
                break;
            default:
                cookie = await rig.SignInAtCmsDirectlyAsync("alice", "cms-alice");
                break;
        }
        using var browser = new Browser(rig.Gateway.BaseUrl);
        var response = await GetWithCmsCookieAsync(browser, "/admin", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.StartsWith("gw_session=", StringComparison.Ordinal)));
        Assert.DoesNotContain(rig.Gateway.Logs.Lines, l => l.Event.Name == "CmsSessionAdopted");
    }

    [Fact]
    public async Task Secret_rotation_the_old_secret_still_verifies_on_adoption_and_the_new_one_signs()
    {
        const string newSecret = "legacy-cms-secret-2027";
        // The CMS has rotated too: it signs with the new secret and still accepts the old one.
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration, c =>
        {
            Adopting()(c);
            c.Set("Gateway:LegacySignIn:Secrets:0", newSecret).Set("Gateway:LegacySignIn:Secrets:1", LegacyCmsRig.Secret);
        }, cmsSecrets: $"{newSecret},{LegacyCmsRig.Secret}");

        // A session from before the rotation: its cookie signed with the old secret.
        var oldId = Guid.NewGuid().ToString("N");
        await rig.WriteCmsRecordAsync(oldId, "{\"cookie\":{\"originalMaxAge\":null,\"expires\":null,\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":1}}");
        using var adopted = new Browser(rig.Gateway.BaseUrl);
        Assert.Equal(HttpStatusCode.OK, (await GetWithCmsCookieAsync(adopted, "/admin", LegacyCmsRig.CmsCookie(oldId))).StatusCode);

        // A new sign-in: the gateway's cookie is signed with the new secret (a CMS knowing only the new one accepts it).
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var sessionId = (await (await browser.ApiGetAsync("/whoami")).Content.ReadFromJsonAsync<CmsWho>())!.SessionId;
        await using var newOnly = await LegacyCmsRig.StartCmsAsync(redis.Configuration, newSecret);
        using var direct = new HttpClient();
        using var withNew = new HttpRequestMessage(HttpMethod.Get, newOnly.BaseUrl + "/whoami");
        withNew.Headers.Add("Cookie", LegacyCmsRig.CmsCookie(sessionId, newSecret));
        Assert.Equal("alice", (await (await direct.SendAsync(withNew)).Content.ReadFromJsonAsync<CmsWho>())!.User);
    }
}

/// <summary>CMS user ids compare by JSON value, not by text: the CMS and .NET escape strings differently.</summary>
public sealed class CmsUserIdTests
{
    [Theory]
    [InlineData("1", "1", true)]
    [InlineData("1", "1.0", true)]
    [InlineData("1", "\"1\"", false)]
    [InlineData("\"a+b@example.test\"", "\"a\\u002Bb@example.test\"", true)]
    [InlineData("\"Zoë\"", "\"Zo\\u00EB\"", true)]
    [InlineData("\"alice\"", "\"Alice\"", false)]
    [InlineData("2", "3", false)]
    [InlineData("\"x\"", "not json", false)]
    public void Ids_are_the_same_by_json_value(string a, string b, bool same) =>
        Assert.Equal(same, Gateway.LegacySignIn.CmsUserId.Same(a, b));

    [Fact]
    public void A_string_id_is_written_as_json_stringify_writes_it() =>
        Assert.Equal("\"a+b@example.test\"", Gateway.LegacySignIn.CmsUserId.FromString("a+b@example.test"));
}
