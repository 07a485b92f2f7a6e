using System.Diagnostics;
using OpenQA.Selenium;

namespace Gateway.Tests.Rig;

/// <summary>
/// Clicks that lead to a new page. WebDriver's own Click only waits for a navigation that has already begun when
/// the click returns; under suite load a form post often starts a moment later and the test then reads the old page.
/// These wait until the old document is gone and the new one has loaded.
/// </summary>
internal static class BrowserNavigation
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static void ClickAndWaitForNewPage(this IWebDriver driver, By target) =>
        driver.ClickAndWaitForNewPage(driver.FindElement(target));

    public static void ClickAndWaitForNewPage(this IWebDriver driver, IWebElement target)
    {
        var oldDocument = driver.FindElement(By.TagName("html"));
        target.Click();
        var clock = Stopwatch.StartNew();
        while (!IsStale(oldDocument))
        {
            if (clock.Elapsed > Timeout) throw new TimeoutException($"The click did not lead to a new page within {Timeout.TotalSeconds} s; still at {driver.Url}");
            Thread.Sleep(25);
        }
        while (!Equals(((IJavaScriptExecutor)driver).ExecuteScript("return document.readyState"), "complete"))
        {
            if (clock.Elapsed > Timeout) throw new TimeoutException($"The new page at {driver.Url} did not finish loading within {Timeout.TotalSeconds} s");
            Thread.Sleep(25);
        }
    }

    private static bool IsStale(IWebElement element)
    {
        try
        {
            _ = element.Enabled;
            return false;
        }
        catch (StaleElementReferenceException)
        {
            return true;
        }
    }
}
