using Gateway.Sessions;

namespace Gateway.Hosting;

/// <summary>The last line of fail-closed: a store outage anywhere becomes a 503 with Retry-After, never a 500 or a guess.</summary>
internal sealed class StoreUnavailableGuard(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (StoreUnavailableException) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await GatewayResponses.StoreUnavailableAsync(context);
        }
    }
}
