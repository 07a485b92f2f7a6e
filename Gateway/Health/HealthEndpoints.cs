using System.Text.Json;
using Gateway.Routing;

namespace Gateway.Health;

/// <summary>
/// <c>/healthz</c>: the process runs. <c>/readyz</c>: config loaded and the session store reachable.
/// A rejected route-file edit shows in the body but keeps /readyz at 200: one bad ConfigMap edit must
/// not take every replica out of service while the last good routes still serve.
/// </summary>
internal static class HealthEndpoints
{
    public static void MapGatewayHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous().DisableHttpMetrics();
        endpoints.MapGet("/readyz", ReadyAsync).AllowAnonymous().DisableHttpMetrics();
    }

    private static async Task ReadyAsync(HttpContext context, ProxyConfigStatus config, IStoreReadiness store)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        var (storeReady, storeDetail) = await store.CheckAsync(timeout.Token);
        var state = config.Current;
        var ready = storeReady && state.LoadedAt is not null;

        context.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("status", ready ? "ready" : "not-ready");
        json.WriteStartObject("store");
        json.WriteBoolean("ready", storeReady);
        json.WriteString("detail", storeDetail);
        json.WriteEndObject();
        json.WriteStartObject("routes");
        json.WriteBoolean("loaded", state.LoadedAt is not null);
        if (state.LoadedAt is { } loadedAt) json.WriteString("loadedAt", loadedAt);
        if (state.LoadedHash is { } hash) json.WriteString("sha256", hash);
        json.WriteStartArray("lastReloadErrors");
        foreach (var error in state.LastErrors) json.WriteStringValue(error);
        json.WriteEndArray();
        if (state.LastErrorAt is { } errorAt) json.WriteString("lastReloadErrorAt", errorAt);
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
