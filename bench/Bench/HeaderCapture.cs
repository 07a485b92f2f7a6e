namespace Bench;

/// <summary>
/// An upstream that records the identity headers of the one request it is sent: what the gateway puts on the wire for
/// the bench user, so bare YARP can be configured to send exactly the same bytes (target b2).
/// </summary>
internal sealed class HeaderCapture : IAsyncDisposable
{
    public const string Prefix = "X-Auth-";
    private readonly WebApplication _app;
    private readonly TaskCompletionSource<IReadOnlyList<KeyValuePair<string, string>>> _captured = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HeaderCapture(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        _app = builder.Build();
        _app.Run(context =>
        {
            _captured.TrySetResult(context.Request.Headers
                .Where(h => h.Key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
                .Select(h => KeyValuePair.Create(h.Key, h.Value.ToString())).ToList());
            return Task.CompletedTask;
        });
        Url = $"http://127.0.0.1:{port}/";
    }

    public string Url { get; }

    public static async Task<HeaderCapture> StartAsync()
    {
        var capture = new HeaderCapture(Processes.FreePort());
        await capture._app.StartAsync();
        return capture;
    }

    /// <summary>Sends one signed-in request through <paramref name="gatewayUrl"/> and returns the identity headers that arrived.</summary>
    public async Task<IReadOnlyList<KeyValuePair<string, string>>> CaptureAsync(string gatewayUrl, string cookie)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gatewayUrl);
        request.Headers.Add("Cookie", cookie);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var headers = await _captured.Task.WaitAsync(TimeSpan.FromSeconds(10));
        if (headers.Count == 0) throw new InvalidOperationException("the gateway sent no identity headers to the capture upstream");
        return headers;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
