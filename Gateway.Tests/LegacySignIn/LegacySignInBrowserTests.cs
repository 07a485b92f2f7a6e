using OpenQA.Selenium;

namespace Gateway.Tests.LegacySignIn;

/// <summary>In a real browser: signed in at the gateway, the CMS's own page says who the user is; logged out, Back shows nobody.</summary>
public sealed class LegacySignInBrowserTests(SharedRedis redis)
{
    [Fact]
    public async Task Sign_in_at_the_gateway_see_the_cms_signed_in_page_log_out_and_back_is_signed_out_everywhere()
    {
        await using var rig = await LegacyCmsRig.StartAsync(redis.Configuration);
        using var chromium = new HeadlessChromium();
        var driver = chromium.Driver;
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);

        driver.Navigate().GoToUrl($"{rig.Gateway.BaseUrl}/admin/pages");
        Assert.StartsWith($"{rig.Gateway.BaseUrl}/login?returnUrl=%2Fadmin%2Fpages", driver.Url);
        driver.FindElement(By.Id("username")).SendKeys("alice");
        driver.FindElement(By.Id("password")).SendKeys("alice-password");
        driver.ClickAndWaitForNewPage(By.Id("signin"));

        // The CMS's own page, from its own Passport session: it reads no header.
        Assert.Equal($"{rig.Gateway.BaseUrl}/admin/pages", driver.Url);
        Assert.Equal("Signed in as alice", driver.FindElement(By.Id("who")).Text);
        Assert.Null(driver.Manage().Cookies.GetCookieNamed("connect.sid"));

        // The CMS's own sign-out link, intercepted by the gateway.
        driver.ClickAndWaitForNewPage(By.Id("cms-logout"));
        Assert.Equal($"{rig.Gateway.BaseUrl}/", driver.Url);
        Assert.Equal("Guest", driver.FindElement(By.Id("who")).Text);
        Assert.Null(driver.Manage().Cookies.GetCookieNamed("gw_session"));

        driver.Navigate().Back();
        Assert.DoesNotContain("Signed in as alice", driver.PageSource);
        driver.Navigate().Refresh();
        Assert.StartsWith($"{rig.Gateway.BaseUrl}/login", driver.Url);
    }
}
