using OpenQA.Selenium;

namespace Gateway.Tests.Logout;

/// <summary>
/// The demo a newcomer opens: the Development login page names the dev users, and the CMS page shows the
/// identity headers it received, that the assertion verified (claims, expiry), that the gateway's cookie never
/// reached it, and links to "your sessions" and logout. Checked in Chromium, with a screenshot.
/// </summary>
public sealed class DemoPageTests(SharedRedis redis, ITestOutputHelper output)
{
    [Fact]
    public async Task The_demo_page_shows_headers_the_verified_assertion_and_links_in_chromium()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Environment = "Development");
        using var chromium = new HeadlessChromium();
        var driver = chromium.Driver;
        driver.Manage().Window.Size = new System.Drawing.Size(1100, 1400);

        driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin");
        var devUsers = driver.FindElement(By.Id("dev-users")).Text;
        Assert.Contains("alice (editor)", devUsers);
        Assert.Contains("admin (editor, admin)", devUsers);
        driver.FindElement(By.Id("username")).SendKeys("alice");
        driver.FindElement(By.Id("password")).SendKeys("alice-password");
        driver.ClickAndWaitForNewPage(By.Id("signin"));

        Assert.Equal("Signed in as alice", driver.FindElement(By.Id("who")).Text);
        var headers = driver.FindElement(By.Id("headers")).Text;
        Assert.Contains("x-auth-user alice", headers);
        Assert.Contains("x-auth-email alice@example.test", headers);
        Assert.Contains("x-auth-roles editor", headers);
        Assert.StartsWith("Verified against the gateway's JWKS", driver.FindElement(By.Id("assertion")).Text);
        Assert.Matches(@"^Expires in \d+ s", driver.FindElement(By.Id("expiry")).Text);
        var claims = driver.FindElement(By.Id("claims")).Text;
        Assert.Contains("sub alice", claims);
        Assert.Contains("sid_hash", claims);
        Assert.Equal("The gateway's session cookie never reached the CMS.", driver.FindElement(By.Id("gateway-cookie")).Text);
        Assert.EndsWith("/_gateway/my-sessions", driver.FindElement(By.Id("my-sessions")).GetAttribute("href"));
        Assert.EndsWith("/admin/logout", driver.FindElement(By.Id("logout")).GetAttribute("href"));

        var screenshot = ((ITakesScreenshot)driver).GetScreenshot();
        var file = Path.Combine(Tools.RepoRoot, "Gateway.Tests", "TestResults", "demo-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        screenshot.SaveAsFile(file);
        output.WriteLine($"screenshot: {file}");
        var png = await File.ReadAllBytesAsync(file);
        Assert.True(png.Length > 10_000);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);

        // The "your sessions" link works from the demo page.
        driver.ClickAndWaitForNewPage(By.Id("my-sessions"));
        Assert.Contains("(this browser)", driver.FindElement(By.TagName("tbody")).Text);
    }
}
