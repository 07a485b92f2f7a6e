namespace Gateway.Tests.Rig;

/// <summary>The gateway as its own process (`dotnet Gateway.dll`), for replica tests and start-up failures.</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly ServerProcess _process;
    private readonly string _root;

    private GatewayProcess(ServerProcess process, string root, int port)
    {
        _process = process;
        _root = root;
        Port = port;
    }

    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public string Output => _process.Output;
    public ServerProcess Process => _process;

    public static GatewayProcess Launch(GatewayConfig config, string[]? extraArgs = null, int? port = null)
    {
        var root = Tools.NewTempDir("gwp");
        if (config.ProxyJson != "<none>") File.WriteAllText(Path.Combine(root, "proxy.json"), config.RouteFile());
        var chosen = port ?? Tools.FreePort();
        var env = new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = config.Environment, ["DOTNET_ENVIRONMENT"] = null };
        foreach (var (key, value) in config.Settings) env[key.Replace(":", "__")] = value;
        var args = new List<string> { Tools.GatewayDll, "--urls", $"http://127.0.0.1:{chosen}" };
        if (extraArgs is not null) args.AddRange(extraArgs);
        var process = new ServerProcess("dotnet", args, env, root);
        return new GatewayProcess(process, root, chosen);
    }

    /// <summary>Launches the gateway and waits until it is live and its key ring has loaded (see GatewayHost.StartAsync).</summary>
    public static async Task<GatewayProcess> StartAsync(GatewayConfig config, int? port = null)
    {
        var gateway = Launch(config, port: port);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var waitingFor = "/healthz";
        while (DateTime.UtcNow < deadline)
        {
            if (gateway._process.HasExited) throw new InvalidOperationException($"The gateway exited with {gateway._process.ExitCode}:\n{gateway.Output}");
            try
            {
                if (waitingFor == "/healthz" && (await http.GetAsync($"{gateway.BaseUrl}/healthz")).IsSuccessStatusCode) waitingFor = "/readyz";
                if (waitingFor == "/readyz" && KeyRingUsable(await (await http.GetAsync($"{gateway.BaseUrl}/readyz")).Content.ReadAsStringAsync())) return gateway;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        await gateway.DisposeAsync();
        throw new TimeoutException($"The gateway did not answer {waitingFor} with a loaded key ring within 30 s:\n{gateway.Output}");
    }

    // /readyz may be 503 for reasons a test sets up on purpose (an upstream that is down); only the key ring is awaited.
    private static bool KeyRingUsable(string readyz)
    {
        using var body = System.Text.Json.JsonDocument.Parse(readyz);
        return body.RootElement.TryGetProperty("keyRing", out var keyRing)
            && keyRing.TryGetProperty("usable", out var usable) && usable.ValueKind == System.Text.Json.JsonValueKind.True;
    }

    public Browser Browser() => new(BaseUrl);

    public Task<Browser> SignedInBrowserAsync(string user, string password) => Rig.Browser.SignedInAsync(BaseUrl, user, password);

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
