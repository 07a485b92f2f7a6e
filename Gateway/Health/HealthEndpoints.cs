using System.Text.Json;
using Gateway.Routing;

namespace Gateway.Health;

/// <summary>
/// <c>/healthz</c>: the process runs. <c>/readyz</c>: this replica can serve, which depends only on what is local
/// to it: the route file loaded, the key ring usable and the warm-up (<see cref="WarmUp.WarmUpService"/>) over. Never the shared Redis: one Redis outage must not take
/// every replica out of the Service and the public routes with them; Redis state is reported in the body (and
/// in the <c>gateway.redis.connected</c> metric). A rejected route-file edit shows in the body but keeps /readyz
/// at 200: one bad ConfigMap edit must not take every replica out while the last good routes still serve.
/// Anonymous callers see states only; error text and file paths need the admin key.
/// </summary>
internal static class HealthEndpoints
{
    public static void MapGatewayHealth(this IEndpointRouteBuilder endpoints, string healthPath, string readyPath)
    {
        endpoints.MapGet(healthPath, () => Results.Text("ok")).AllowAnonymous().DisableHttpMetrics();
        endpoints.MapGet(readyPath, ReadyAsync).AllowAnonymous().DisableHttpMetrics();
    }

    private static async Task ReadyAsync(HttpContext context, ProxyConfigStatus config, IStoreReadiness store, KeyRingReadiness keyRing, WarmUp.WarmUpState warmUp, Admin.AdminKey adminKey)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromMilliseconds(500));
        var (storeReady, storeDetail) = await store.CheckAsync(timeout.Token);
        var keyRingUsable = keyRing.IsUsable();
        var state = config.Current;
        var warmedUp = warmUp.IsOver;
        var ready = state.LoadedAt is not null && keyRingUsable && warmedUp;
        var details = adminKey.Check(context.Request) == true;

        context.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("status", ready ? "ready" : "not-ready");
        json.WriteStartObject("routes");
        json.WriteBoolean("loaded", state.LoadedAt is not null);
        json.WriteNumber("lastReloadErrorCount", state.LastErrors.Count);
        if (details)
        {
            if (state.LoadedAt is { } loadedAt) json.WriteString("loadedAt", loadedAt);
            if (state.LoadedHash is { } hash) json.WriteString("sha256", hash);
            json.WriteStartArray("lastReloadErrors");
            foreach (var error in state.LastErrors) json.WriteStringValue(error);
            json.WriteEndArray();
            if (state.LastErrorAt is { } errorAt) json.WriteString("lastReloadErrorAt", errorAt);
        }
        json.WriteEndObject();
        json.WriteStartObject("keyRing");
        json.WriteBoolean("usable", keyRingUsable);
        json.WriteEndObject();
        json.WriteStartObject("warmUp");
        json.WriteBoolean("over", warmedUp);
        json.WriteEndObject();
        // Reported, never decisive: the shared store being down is not this replica being unready.
        json.WriteStartObject("store");
        json.WriteBoolean("ready", storeReady);
        if (details) json.WriteString("detail", storeDetail);
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
