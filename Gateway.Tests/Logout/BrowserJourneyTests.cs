using OpenQA.Selenium;

namespace Gateway.Tests.Logout;

/// <summary>The whole journey in a real browser: sign in, use the CMS, log out with the CMS's own link, press Back.</summary>
public sealed class BrowserJourneyTests(SharedRedis redis, ITestOutputHelper output)
{
    [Fact]
    public async Task Sign_in_browse_log_out_with_the_cms_link_and_back_never_shows_the_protected_page()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var chromium = new HeadlessChromium();
        var driver = chromium.Driver;
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);

        driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin");
        Assert.StartsWith($"{rig.Gateway.BaseUrl}/login?returnUrl=%2Fadmin", driver.Url);
        driver.FindElement(By.Id("username")).SendKeys("alice");
        driver.FindElement(By.Id("password")).SendKeys("alice-password");
        driver.ClickAndWaitForNewPage(By.Id("signin"));

        Assert.Equal($"{rig.Gateway.BaseUrl}/admin", driver.Url);
        Assert.Equal("Signed in as alice", driver.FindElement(By.Id("who")).Text);
        var cookie = driver.Manage().Cookies.GetCookieNamed("gw_session");
        Assert.NotNull(cookie);
        Assert.True(cookie.IsHttpOnly);

        driver.ClickAndWaitForNewPage(By.Id("logout"));
        Assert.Equal($"{rig.Gateway.BaseUrl}/", driver.Url);
        Assert.Equal("Public CMS home", driver.FindElement(By.Id("public")).Text);
        Assert.Null(driver.Manage().Cookies.GetCookieNamed("gw_session"));

        driver.Navigate().Back();
        output.WriteLine($"after Back: {driver.Url}");
        Assert.DoesNotContain("Signed in as alice", driver.PageSource);
        driver.Navigate().Refresh();
        Assert.StartsWith($"{rig.Gateway.BaseUrl}/login", driver.Url);
        Assert.NotNull(driver.FindElement(By.Id("signin")));
        Assert.DoesNotContain(cookie.Value, rig.Gateway.Logs.All);
    }
}
