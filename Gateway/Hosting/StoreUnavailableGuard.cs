using Gateway.Sessions;

namespace Gateway.Hosting;

/// <summary>The last line of fail-closed: a store outage anywhere becomes a 503 with Retry-After, never a 500 or a guess.</summary>
internal sealed class StoreUnavailableGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        // Most requests finish without this frame waiting on them; only one still running needs the awaiting copy.
        Task pending;
        try
        {
            pending = next(context);
        }
        catch (Exception ex)
        {
            pending = Task.FromException(ex); // a delegate that threw before returning a task: handled below all the same
        }
        return pending.IsCompletedSuccessfully ? Task.CompletedTask : GuardAsync(context, pending);
    }

    private static async Task GuardAsync(HttpContext context, Task pending)
    {
        try
        {
            await pending;
        }
        catch (StoreUnavailableException) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await GatewayResponses.StoreUnavailableAsync(context);
        }
        catch (SessionStartRefusedException ex) when (!context.Response.HasStarted)
        {
            // A sign-in (the OIDC callback's) that a start hook refused: no session was created; say why.
            context.Response.Clear();
            await GatewayResponses.SignInRefusedAsync(context, ex.Message);
        }
    }
}
