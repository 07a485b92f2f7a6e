using OpenQA.Selenium.Chrome;

namespace Gateway.Tests.Rig;

/// <summary>Debian's Chromium driven through Debian's chromedriver (no browser download), stopped by PID.</summary>
internal sealed class HeadlessChromium : IDisposable
{
    private readonly ChromeDriverService _service;
    private readonly string _profile = Tools.NewTempDir("chromium");

    public HeadlessChromium()
    {
        var chromium = Tools.Require("chromium", "apt-get install -y chromium");
        var driverPath = Tools.Require("chromedriver", "apt-get install -y chromium-driver");
        _service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driverPath)!, Path.GetFileName(driverPath));
        _service.SuppressInitialDiagnosticInformation = true;
        _service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", $"--user-data-dir={_profile}");
        Driver = new ChromeDriver(_service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    public void Dispose()
    {
        try { Driver.Quit(); } catch (OpenQA.Selenium.WebDriverException) { }
        Driver.Dispose();
        // chromedriver and any browser process it left behind, by PID.
        if (_service.ProcessId > 0)
        {
            try { System.Diagnostics.Process.GetProcessById(_service.ProcessId).Kill(entireProcessTree: true); }
            catch (ArgumentException) { }
            catch (InvalidOperationException) { }
        }
        _service.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
