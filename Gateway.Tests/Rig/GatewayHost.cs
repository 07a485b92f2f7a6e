using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Gateway.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging.Testing;

namespace Gateway.Tests.Rig;

/// <summary>The gateway in the test process, on a real Kestrel port on loopback.</summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    private static readonly string SharedKeyDirectory = KeyDirectoryDeletedAtExit();
    private readonly WebApplication _app;

    private GatewayHost(WebApplication app, string contentRoot, CapturedLogs logs)
    {
        _app = app;
        ContentRoot = contentRoot;
        Logs = logs;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "127.0.0.1");
    }

    public string BaseUrl { get; }
    public string ContentRoot { get; }
    public CapturedLogs Logs { get; }
    public IServiceProvider Services => _app.Services;
    public string RouteFilePath => Path.Combine(ContentRoot, "proxy.json");

    /// <summary>
    /// Replaces the route file in one step (written beside it, then renamed over it, as kubelet swaps a ConfigMap), so
    /// the gateway's poll never reads a half-written edit and reports that instead of the edit's own problem.
    /// </summary>
    public async Task EditRouteFileAsync(string content)
    {
        var next = RouteFilePath + ".next";
        await File.WriteAllTextAsync(next, content);
        File.Move(next, RouteFilePath, overwrite: true);
    }

    /// <summary>
    /// Starts the gateway and, unless <paramref name="awaitKeyRing"/> is false (a replica started during an outage on
    /// purpose), waits until its key ring has loaded: what Kubernetes' readiness probe waits for before it sends traffic.
    /// Without that, a first key-ring write slower than the client's sync timeout (a busy CI machine) left the first
    /// sign-ins of a test answering 503 and the test asserting on browsers that were never signed in.
    /// </summary>
    public static async Task<GatewayHost> StartAsync(GatewayConfig config, TimeProvider? time = null, string url = "http://127.0.0.1:0",
        Action<IServiceCollection>? services = null, bool awaitKeyRing = true)
    {
        var app = Build(config, time, url, out var root, out var logs, services);
        await app.PrepareGatewayAsync();
        await app.StartAsync();
        var host = new GatewayHost(app, root, logs);
        if (!awaitKeyRing) return host;
        var keyRing = app.Services.GetRequiredService<Gateway.KeyRing.KeyRingHealth>();
        if (await Poll.Until(() => Task.FromResult<bool?>(keyRing.TryLoad() ? true : null), 30_000) is null)
        {
            var output = logs.All;
            await host.DisposeAsync();
            throw new TimeoutException($"The gateway's key ring did not load within 30 s:\n{output}");
        }
        return host;
    }

    // The ring's keys are in plaintext there (no key-encryption key without Redis): gone with the test process.
    private static string KeyDirectoryDeletedAtExit()
    {
        var dir = Tools.NewTempDir("gw-keys");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    }

    /// <summary>Builds and prepares without starting, for start-up validation tests.</summary>
    public static async Task PrepareOnlyAsync(GatewayConfig config)
    {
        await using var app = Build(config, null, "http://127.0.0.1:0", out _, out _);
        await app.PrepareGatewayAsync();
    }

    private static WebApplication Build(GatewayConfig config, TimeProvider? time, string url, out string root, out CapturedLogs logs,
        Action<IServiceCollection>? services = null)
    {
        root = Tools.NewTempDir("gw");
        if (config.ProxyJson != "<none>") File.WriteAllText(Path.Combine(root, "proxy.json"), config.RouteFile());
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = config.Environment, ContentRootPath = root, Args = [] });
        builder.Configuration.AddInMemoryCollection(config.Settings);
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        logs = new CapturedLogs();
        builder.Logging.AddProvider(logs.Provider());
        if (time is not null) builder.Services.AddSingleton(time);
        builder.AddGateway();
        if (!config.Settings.ContainsKey("Gateway:Redis:Configuration"))
            builder.Services.AddDataProtection().PersistKeysToFileSystem(
                new DirectoryInfo(config.PrivateKeyRing ? Path.Combine(root, "keys") : SharedKeyDirectory));
        services?.Invoke(builder.Services);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs.Provider());
        return builder.Build();
    }

    public Browser Browser() => new(BaseUrl);

    /// <summary>A browser signed in through the login form; a sign-in that did not happen fails with this gateway's log.</summary>
    public async Task<Browser> SignedInBrowserAsync(string user, string password)
    {
        try
        {
            return await Rig.Browser.SignedInAsync(BaseUrl, user, password);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException(ex.Message + "\n" + Logs.All, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try { Directory.Delete(ContentRoot, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Every log line the gateway wrote at Information or above, for asserting events and that no secret leaks: the
/// framework's <see cref="FakeLogCollector"/> behind the shape the tests read.
/// </summary>
internal sealed class CapturedLogs
{
    private readonly FakeLogCollector _collector = FakeLogCollector.Create(new FakeLogCollectorOptions());

    public ILoggerProvider Provider() => new FakeLoggerProvider(_collector);

    public IReadOnlyList<(string Category, EventId Event, string Message)> Lines => _collector.GetSnapshot()
        .Where(r => r.Level >= LogLevel.Information)
        .Select(r => (r.Category ?? "", r.Id, r.Message + (r.Exception is null ? "" : " " + r.Exception)))
        .ToList();

    public string All => string.Join("\n", Lines.Select(l => $"{l.Category} [{l.Event.Name}] {l.Message}"));
}
