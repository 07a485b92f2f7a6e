namespace Gateway.Tests.Logout;

public sealed class LogoutTests(SharedRedis redis)
{
    private static async Task<string> LegacyLoginAsync(Browser browser)
    {
        // The CMS's own session, created through the gateway like the legacy CMS does today.
        var response = await browser.Http.PostAsync("/legacy/login", null);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
    }

    [Fact]
    public async Task Logout_purges_the_session_its_index_entry_and_the_cms_session_then_clears_cookies_and_redirects()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var cmsSession = await LegacyLoginAsync(browser);
        using var mux = await redis.Server.ConnectAsync();
        var db = mux.GetDatabase();
        var server = mux.GetServer(redis.Configuration);
        var sessionKey = Assert.Single(server.Keys(pattern: rig.KeyPrefix + "{u:*}:s:*"));
        var indexKey = Assert.Single(server.Keys(pattern: rig.KeyPrefix + "{u:*}:idx"));
        Assert.True(await db.KeyExistsAsync($"sess:{cmsSession}"));

        // The CMS's own logout link: intercepted, never proxied (the CMS would redirect to /?cms-logout=1).
        var response = await browser.NavigateAsync("/admin/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.OriginalString);

        Assert.False(await db.KeyExistsAsync(sessionKey));
        Assert.Equal(0, await db.SetLengthAsync(indexKey));
        Assert.False(await db.KeyExistsAsync($"sess:{cmsSession}"));

        var setCookies = response.Headers.GetValues("Set-Cookie").ToList();
        var gw = Assert.Single(setCookies, c => c.StartsWith("gw_session=", StringComparison.Ordinal));
        Assert.Equal("gw_session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; max-age=0; path=/; samesite=lax; httponly", gw);
        Assert.Contains(setCookies, c => c.StartsWith("connect.sid=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/", StringComparison.Ordinal));
        Assert.True(response.Headers.CacheControl!.NoStore);
        Assert.Null(browser.Cookie("gw_session"));
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "LogoutCompleted");
    }

    [Fact]
    public async Task Post_logout_with_same_origin_answers_303_to_the_validated_return_url()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var response = await browser.PostSameOriginAsync("/logout?returnUrl=%2Fgoodbye");
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/goodbye", response.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Logout_without_a_session_or_with_a_tampered_cookie_still_clears_and_redirects()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        foreach (var cookie in new string?[] { null, "tampered-value" })
        {
            using var browser = rig.Gateway.Browser();
            if (cookie is not null) browser.SetCookie("gw_session", cookie);
            var response = await browser.NavigateAsync("/logout");
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            Assert.Equal("/", response.Headers.Location!.OriginalString);
            Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("gw_session=;", StringComparison.Ordinal));
        }
    }

    public static TheoryData<string, string> CrossSite => new()
    {
        { "Sec-Fetch-Site", "cross-site" },
        { "Sec-Fetch-Site", "same-site" },
        { "Referer", "https://evil.example/page" },
        { "Origin", "https://evil.example" },
    };

    [Theory]
    [MemberData(nameof(CrossSite))]
    public async Task A_cross_site_get_shows_a_confirmation_that_posts_and_does_not_log_out_silently(string header, string value)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var request = new HttpRequestMessage(HttpMethod.Get, "/logout?returnUrl=%2Fbye");
        request.Headers.TryAddWithoutValidation(header, value);
        var confirm = await browser.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        var page = await confirm.Content.ReadAsStringAsync();
        Assert.Contains("Another site asked to sign you out", page);
        Assert.DoesNotContain(confirm.Headers.TryGetValues("Set-Cookie", out var sc) ? sc : [], c => c.StartsWith("gw_session=", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        var post = await browser.Http.PostAsync("/logout", new FormUrlEncodedContent(Browser.HiddenFields(page)));
        Assert.Equal(HttpStatusCode.SeeOther, post.StatusCode);
        Assert.Equal("/bye", post.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_post_from_a_foreign_origin_without_the_token_does_not_log_out()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var request = new HttpRequestMessage(HttpMethod.Post, "/logout") { Content = new FormUrlEncodedContent([]) };
        request.Headers.Add("Origin", "https://evil.example");
        var response = await browser.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Another site asked to sign you out", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Logout_everywhere_ends_every_session_of_the_user_and_no_one_elses()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var laptop = rig.Gateway.Browser();
        using var phone = rig.Gateway.Browser();
        using var someoneElse = rig.Gateway.Browser();
        await laptop.LoginAsync("alice", "alice-password");
        await phone.LoginAsync("alice", "alice-password");
        await someoneElse.LoginAsync("admin", "admin-password");
        Assert.Equal(HttpStatusCode.SeeOther, (await laptop.PostSameOriginAsync("/logout?scope=all")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await someoneElse.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_legacy_cookie_with_a_bad_signature_is_cleared_but_purges_nothing()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var victim = rig.Gateway.Browser();
        var victimSession = await LegacyLoginAsync(victim);
        using var attacker = rig.Gateway.Browser();
        attacker.SetCookie("connect.sid", $"s%3A{victimSession}.forgedsignatureAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        var response = await attacker.NavigateAsync("/logout");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("connect.sid=;", StringComparison.Ordinal));
        using var mux = await redis.Server.ConnectAsync();
        Assert.True(await mux.GetDatabase().KeyExistsAsync($"sess:{victimSession}"));
        Assert.Equal(victimSession, (await victim.Http.GetFromJsonAsync<JsonElement>("/legacy/me")).GetProperty("sessionId").GetString());
    }

    [Fact]
    public async Task Logout_of_an_oidc_session_goes_through_the_providers_end_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        var response = await browser.NavigateAsync("/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith($"{rig.Idp.Issuer}/session/end?", location.OriginalString);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query);
        Assert.Equal($"{rig.Gateway.BaseUrl}/", query["post_logout_redirect_uri"].ToString());
        AssertIdTokenOf(rig, "alice", query["id_token_hint"].ToString());
        Assert.NotEmpty(query["state"].ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Logout_everywhere_of_an_oidc_session_still_hands_the_provider_this_sessions_id_token()
    {
        // The id_token is never cached: it is read from the store before signing out everywhere deletes the record.
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var laptop = rig.Gateway.Browser();
        using var phone = rig.Gateway.Browser();
        await rig.LoginAsync(laptop, "alice");
        await rig.LoginAsync(phone, "alice");
        var response = await laptop.PostSameOriginAsync("/logout?scope=all");
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith($"{rig.Idp.Issuer}/session/end?", location.OriginalString);
        AssertIdTokenOf(rig, "alice", Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query)["id_token_hint"].ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Logout_of_an_oidc_session_whose_record_the_store_lost_still_ends_the_providers_session_by_client_id()
    {
        // The session ended in the store a moment ago (another replica, or idle expiry there) while this replica's
        // cache still holds it: the id_token is gone with the record, the provider's session is not.
        await using var rig = await OidcRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        using var mux = await redis.Server.ConnectAsync();
        var prefix = rig.Config.Settings["Gateway:Redis:KeyPrefix"]!;
        var sessionKey = Assert.Single(mux.GetServer(redis.Configuration).Keys(pattern: prefix + "{u:*}:s:*"));
        Assert.True(await mux.GetDatabase().KeyDeleteAsync(sessionKey));

        var response = await browser.NavigateAsync("/logout", site: "same-origin");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith($"{rig.Idp.Issuer}/session/end?", location.OriginalString);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query);
        Assert.Equal(IdentityProvider.ClientId, query["client_id"].ToString());
        Assert.False(query.ContainsKey("id_token_hint"));
        Assert.Equal($"{rig.Gateway.BaseUrl}/", query["post_logout_redirect_uri"].ToString());
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "ProviderSignOutWithoutHint");
        // The provider takes it: its sign-out confirmation, not an error page.
        var atProvider = await browser.Http.GetAsync(location);
        var page = await atProvider.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, atProvider.StatusCode);
        Assert.Contains("<form", page);
        Assert.DoesNotContain("invalid_request", page);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    /// <summary>The hint is an id_token the provider issued to the gateway for this user, not just something JWT-shaped.</summary>
    private static void AssertIdTokenOf(OidcRig rig, string user, string idToken)
    {
        var parts = idToken.Split('.');
        Assert.Equal(3, parts.Length);
        var claims = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).RootElement;
        Assert.Equal(rig.Idp.Issuer, claims.GetProperty("iss").GetString());
        Assert.Equal(user, claims.GetProperty("sub").GetString());
        Assert.Equal(IdentityProvider.ClientId, claims.GetProperty("aud").GetString());
    }
}
