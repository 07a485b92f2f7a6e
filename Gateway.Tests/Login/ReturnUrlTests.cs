using Gateway.Security;

namespace Gateway.Tests.Login;

/// <summary>Redirect targets are local paths only; every hostile form lands on the default.</summary>
public sealed class ReturnUrlTests(SharedRedis redis)
{
    public static TheoryData<string> Hostile => new()
    {
        "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "http://evil.example",
        "https://evil.example/", "http:/evil.example", "https:evil.example", "HTTPS://evil.example", "//evil.example/%2e%2e",
        "\t//evil.example", "\n//evil.example", " //evil.example", "/\t/evil.example", "/\n/evil.example", "/\r/evil.example",
        "%2F%2Fevil.example", "/%2F/evil.example", "/%5Cevil.example", "%2f%5cevil.example", "/%252F/evil.example",
        "/%25252F%25252Fevil.example", "javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)", "javascript%3Aalert(1)",
        "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "//user:pass@evil.example", "https://trusted.example@evil.example",
        "/\u2215evil.example", "/\uff0fevil.example", "\uff0f\uff0fevil.example", "/\u3002evil.example", "evil.example", "./admin", "",
        "/\0/evil.example", "/" + new string('a', 3000),
    };

    public static TheoryData<string> Local => new() { "/", "/admin", "/admin/page?x=1&y=%20z", "/a/b#frag", "/search?q=%2Fnot-a-host" };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_redirect_targets_are_not_local(string target) => Assert.False(LocalRedirect.IsLocal(target));

    [Theory]
    [MemberData(nameof(Local))]
    public void Local_paths_are_kept(string target) => Assert.True(LocalRedirect.IsLocal(target));

    [Fact]
    public async Task Login_and_logout_replace_every_hostile_return_url_with_the_default()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Login:AttemptsPerMinute", "1000"));
        foreach (var target in Hostile.Select(row => row.Data).Where(t => t.Length < 200 && !t.Contains('\0')))
        {
            using var browser = rig.Gateway.Browser();
            var login = await browser.LoginAsync("alice", "alice-password", target);
            Assert.True(login.Headers.Location?.OriginalString == "/", $"login with returnUrl {target!} went to {login.Headers.Location}");
            var logout = await browser.NavigateAsync("/logout?returnUrl=" + Uri.EscapeDataString(target), site: "same-origin");
            Assert.True(logout.Headers.Location?.OriginalString == "/", $"logout with returnUrl {target} went to {logout.Headers.Location}");
        }
    }
}
