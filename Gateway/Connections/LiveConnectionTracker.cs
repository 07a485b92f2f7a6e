using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// Registers a signed-in request that opens a long-lived connection (a WebSocket upgrade over HTTP/1.1 or an
/// HTTP/2 extended CONNECT, or a request for an event stream) for as long as it runs, so it can be closed when its
/// session ends. A response that turns out to be an event stream is registered by the identity transform.
/// Ordinary requests pass with a few header checks.
/// </summary>
internal sealed class LiveConnectionTracker(RequestDelegate next, LiveConnectionRegistry registry)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>() is not { } feature || !IsLongLived(context)) return next(context);
        return TrackedAsync(context, feature.Session);
    }

    private async Task TrackedAsync(HttpContext context, CachedSession session)
    {
        using var _ = registry.Track(context, session);
        await next(context);
    }

    private static bool IsLongLived(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.Upgrade.Count > 0) return true;
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>()?.IsExtendedConnect == true) return true;
        foreach (var accept in request.Headers.Accept)
            if (accept is not null && accept.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
