namespace Gateway.Tests.Identity;

/// <summary>Nothing a client sends can look like an identity header upstream, on any route, signed in or not.</summary>
public sealed class SpoofedHeaderTests(SharedRedis redis, SpoofedHeaderTests.SharedCms cms) : IClassFixture<SpoofedHeaderTests.SharedCms>
{
    /// <summary>One rig for every row, started by the first and stopped when the class is done (not left to the run's end).</summary>
    public sealed class SharedCms : IAsyncDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private CmsRig? _rig;

        internal async Task<CmsRig> GetAsync(string redisConfiguration)
        {
            await _gate.WaitAsync();
            try { return _rig ??= await CmsRig.StartAsync(redisConfiguration, c => c.Set("Gateway:Login:AttemptsPerMinute", "1000")); }
            finally { _gate.Release(); }
        }

        public async ValueTask DisposeAsync()
        {
            if (_rig is not null) await _rig.DisposeAsync();
            _gate.Dispose();
        }
    }

    public static TheoryData<string, string, bool> Cases()
    {
        var names = new[] { "X-Auth-User", "x-auth-user", "X-AUTH-ROLES", "X_Auth_User", "x_auth_roles", "X-Auth_Email", "X_AUTH-NAME",
            "X-Auth-Assertion", "x_auth_assertion", "X-Auth-Anything-Else", "x-auth-" };
        var data = new TheoryData<string, string, bool>();
        foreach (var name in names)
            foreach (var path in new[] { "/whoami", "/admin/whoami" })
                foreach (var signedIn in new[] { false, true })
                    if (signedIn || path == "/whoami") data.Add(name, path, signedIn);
        return data;
    }

    private Task<CmsRig> RigAsync() => cms.GetAsync(redis.Configuration);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Spoofed_identity_headers_never_reach_upstream(string header, string path, bool signedIn)
    {
        var rig = await RigAsync();
        using var browser = rig.Gateway.Browser();
        if (signedIn) await browser.LoginAsync("alice", "alice-password");
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        // Duplicated, and with a value that would grant admin.
        request.Headers.TryAddWithoutValidation(header, "admin");
        request.Headers.TryAddWithoutValidation(header, "mallory");
        var seen = await (await browser.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();

        var raw = seen.GetProperty("rawHeaders").EnumerateArray().Select(e => e.GetString()!).ToList();
        var names = raw.Where((_, i) => i % 2 == 0).ToList();
        var values = raw.Where((_, i) => i % 2 == 1).ToList();
        Assert.DoesNotContain(names, n => n.Replace('_', '-').Equals(header.Replace('_', '-'), StringComparison.OrdinalIgnoreCase) && !signedIn);
        Assert.DoesNotContain("mallory", values);
        Assert.DoesNotContain(names, n => n.Contains('_', StringComparison.Ordinal) && n.StartsWith("x", StringComparison.OrdinalIgnoreCase));
        if (signedIn)
        {
            var identity = seen.GetProperty("identity");
            Assert.True(identity.GetProperty("verified").GetBoolean());
            Assert.Equal("alice", identity.GetProperty("user").GetString());
            Assert.Equal(["editor"], identity.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
            Assert.Equal(1, names.Count(n => n.Equals("x-auth-user", StringComparison.OrdinalIgnoreCase)));
            Assert.Equal(1, names.Count(n => n.Equals("x-auth-roles", StringComparison.OrdinalIgnoreCase)));
        }
        else
        {
            Assert.DoesNotContain(names, n => n.StartsWith("x-auth", StringComparison.OrdinalIgnoreCase) || n.StartsWith("x_auth", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory]
    [InlineData("X-Real-IP")]
    [InlineData("x_real_ip")]
    [InlineData("Forwarded")]
    public async Task Client_address_claims_never_reach_upstream(string header)
    {
        var rig = await RigAsync();
        using var browser = rig.Gateway.Browser();
        var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.TryAddWithoutValidation(header, header == "Forwarded" ? "for=203.0.113.66;proto=https" : "203.0.113.66");
        var seen = await (await browser.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        var raw = seen.GetProperty("rawHeaders").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.DoesNotContain(raw, v => v.Contains("203.0.113.66", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_forged_alg_none_assertion_from_the_client_is_removed()
    {
        var rig = await RigAsync();
        using var browser = rig.Gateway.Browser();
        var none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsInJvbGVzIjpbImFkbWluIl19.";
        var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.TryAddWithoutValidation("X-Auth-Assertion", none);
        request.Headers.TryAddWithoutValidation("X-Auth-User", "admin");
        var seen = await (await browser.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(seen.GetProperty("identity").GetProperty("verified").GetBoolean());
        Assert.Equal("no-assertion", seen.GetProperty("identity").GetProperty("reason").GetString());

        // Signed in, the gateway's own assertion replaces it.
        await browser.LoginAsync("alice", "alice-password");
        var signedIn = new HttpRequestMessage(HttpMethod.Get, "/admin/whoami");
        signedIn.Headers.TryAddWithoutValidation("X-Auth-Assertion", none);
        var mine = await (await browser.Http.SendAsync(signedIn)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(mine.GetProperty("identity").GetProperty("verified").GetBoolean());
        Assert.NotEqual(none, mine.GetProperty("headers").GetProperty("x-auth-assertion").GetString());
    }
}

/// <summary>
/// The header contract: X-Auth-User, -Email, -Name and -Roles are percent-encoded UTF-8 (so no value can split a
/// header), the assertion carries the raw values, and a downstream that decodes the header finds the assertion's sub.
/// </summary>
public sealed class IdentityHeaderEncodingTests(SharedRedis redis)
{
    [Theory]
    [InlineData("josé", "jos%C3%A9")]
    [InlineData("100%real", "100%25real")]
    [InlineData("plain-ascii", "plain-ascii")]
    public async Task A_user_id_with_non_ascii_or_percent_reaches_the_cms_encoded_and_verifies_against_the_assertion(string user, string encoded)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c
            .Set("Gateway:Login:DevUsers:2:Name", user).Set("Gateway:Login:DevUsers:2:Password", "p-" + user).Set("Gateway:Login:DevUsers:2:Roles:0", "editor"));
        using var browser = rig.Gateway.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync(user, "p-" + user)).StatusCode);
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.Equal(encoded, seen.GetProperty("headers").GetProperty("x-auth-user").GetString());
        var identity = seen.GetProperty("identity");
        Assert.True(identity.GetProperty("verified").GetBoolean(), identity.ToString());
        Assert.Equal(user, identity.GetProperty("user").GetString());
        Assert.Equal(user, identity.GetProperty("claims").GetProperty("sub").GetString());
    }
}
