namespace Gateway.Tests.Security;

/// <summary>Audit round two, finding 6: the OIDC handler's own paths answer 4xx, and no answer in any environment carries a gateway cookie's value.</summary>
public sealed class ErrorPageLeakTests(SharedRedis redis)
{
    [Fact]
    public async Task The_oidc_sign_out_callback_and_front_channel_path_answer_anonymous_requests_without_a_500()
    {
        await using var idp = await IdentityProvider.StartAsync("http://127.0.0.1:1");
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c =>
        {
            idp.Configure(c);
            c.Environment = "Development";
        });
        using var anonymous = rig.Gateway.Browser();
        foreach (var path in new[] { "/signout-callback-oidc", "/signout-callback-oidc?state=forged", "/signout-oidc?iss=x&sid=y" })
        {
            var response = await anonymous.NavigateAsync(path);
            Assert.InRange((int)response.StatusCode, 200, 499);
            Assert.DoesNotContain("   at ", await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("Development", "GET", "/signout-callback-oidc")]
    [InlineData("Testing", "GET", "/signout-callback-oidc")]
    [InlineData("Development", "GET", "/signout-oidc")]
    [InlineData("Development", "POST", "/signout-oidc")]
    [InlineData("Development", "GET", "/signin-oidc")]
    [InlineData("Development", "POST", "/signin-oidc")]
    [InlineData("Testing", "GET", "/signin-oidc?code=x&state=forged")]
    public async Task The_oidc_handler_paths_answer_4xx_and_never_echo_a_gateway_cookie(string environment, string method, string path)
    {
        // With a CMS behind: a path the gateway does not answer (front-channel logout is not offered) is the CMS's.
        // Signed in through the provider, so the session cookie is among those that must not come back.
        await using var rig = await OidcRig.StartAsync(redis.Configuration, c => c.Environment = environment);
        var gateway = rig.Gateway;
        using var browser = gateway.Browser();
        await rig.LoginAsync(browser, "alice");
        Assert.NotNull(browser.Cookie("gw_session"));
        var cookies = browser.Cookies.GetCookies(new Uri(gateway.BaseUrl)).Select(c => c.Value).Where(v => v.Length > 8).ToList();

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Accept.ParseAdd("text/html");
        if (method == "POST") request.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["state"] = "forged", ["sid"] = "x" });
        var response = await browser.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.InRange((int)response.StatusCode, 200, 499);
        foreach (var value in cookies) Assert.DoesNotContain(value, body);
        Assert.DoesNotContain("   at ", body);
    }
}
