using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Gateway.Tests.Rig;

/// <summary>A real HTTP upstream on loopback (Kestrel) that answers 200 and remembers every request's path and headers.</summary>
internal sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, Dictionary<string, string> Headers)> _seen = new();

    private RecordingUpstream(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public IReadOnlyList<(string Path, Dictionary<string, string> Headers)> Seen => _seen.ToList();

    /// <param name="echoHeader">When set, the body is this request header's value (who the gateway said the user is).</param>
    public static async Task<RecordingUpstream> StartAsync(string? echoHeader = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var upstream = new RecordingUpstream(builder.Build());
        upstream._app.Run(async context =>
        {
            upstream._seen.Enqueue((context.Request.Path + context.Request.QueryString,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            await context.Response.WriteAsync(echoHeader is null ? "upstream" : context.Request.Headers[echoHeader].ToString());
        });
        await upstream._app.StartAsync();
        upstream.BaseUrl = upstream._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
