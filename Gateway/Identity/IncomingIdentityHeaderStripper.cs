using Gateway.Observability;

namespace Gateway.Identity;

/// <summary>
/// Runs first on every request, public routes included: removes every client header that could be
/// taken for an identity header, so only what the gateway injects reaches upstream.
/// </summary>
internal sealed partial class IncomingIdentityHeaderStripper(RequestDelegate next, IdentityHeaderRules rules, WarmUp.WarmUpState warmUp, GatewayMetrics metrics, ILogger<IncomingIdentityHeaderStripper> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        List<string>? forged = null;
        // Enumerating the pairs, not .Keys: Kestrel builds a new set of names for every .Keys call.
        foreach (var header in headers)
            if (rules.IsIdentityHeader(header.Key)) (forged ??= []).Add(header.Key);
        if (forged is not null)
        {
            foreach (var name in forged) headers.Remove(name);
            // The warm-up's own proxied requests arrive at its sink with the headers the gateway injected: not a forgery.
            if (warmUp.IsSinkRequest(context)) return next(context);
            metrics.AuthFailure("forged-identity-header");
            if (logger.IsEnabled(LogLevel.Information)) LogStripped(logger, forged.Count, string.Join(",", forged));
        }
        return next(context);
    }

    [LoggerMessage(EventId = LogEvents.IdentityHeadersStripped, EventName = nameof(LogEvents.IdentityHeadersStripped), Level = LogLevel.Information,
        Message = "Removed {Count} client-supplied identity header(s): {Names}")]
    private static partial void LogStripped(ILogger logger, int count, string names);
}
