using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// Registers every signed-in request bound for a proxy route for as long as it runs, so it is closed when its session
/// ends: whatever its headers say and however late the upstream answers, a long poll, a stream or a WebSocket cannot
/// outlive a logout. Those that announce themselves as long-lived (a WebSocket upgrade, an HTTP/2 extended CONNECT, a
/// request for an event stream) are counted in the live-connections metric from the start; a response that turns out
/// to be an event stream is counted by the identity transform.
/// </summary>
internal sealed class LiveConnectionTracker(RequestDelegate next, LiveConnectionRegistry registry)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>() is not { } feature ||
            context.GetEndpoint()?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is null)
            return next(context);
        return TrackedAsync(context, feature.Session);
    }

    private async Task TrackedAsync(HttpContext context, CachedSession session)
    {
        using var _ = registry.Track(context, session, counted: IsLongLived(context));
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
