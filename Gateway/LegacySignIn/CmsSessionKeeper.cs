using Gateway.Hosting;
using Gateway.Sessions;

namespace Gateway.LegacySignIn;

/// <summary>
/// Before a signed-in request goes to a proxy route: its CMS session is there (checked when due, written again when the
/// CMS dropped it). When the CMS's store cannot say, the request gets 503: never sent upstream as a guest pretending to
/// be signed in. The gateway session itself is untouched.
/// </summary>
internal sealed class CmsSessionKeeper(RequestDelegate next, CmsSessions cms, Microsoft.Extensions.Options.IOptions<LegacySignInOptions> options)
{
    private readonly LegacySignInOptions _options = options.Value;

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>()?.Session is not { Record.CmsSession: not null } session ||
            context.GetEndpoint()?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is not { } route ||
            !_options.IsCms(route.Cluster?.ClusterId))
            return next(context);
        var check = cms.EnsureAsync(session, context.RequestAborted);
        return check.IsCompletedSuccessfully ? next(context) : AwaitCheckAsync(context, check);
    }

    private async Task AwaitCheckAsync(HttpContext context, ValueTask check)
    {
        try
        {
            await check;
        }
        catch (StoreUnavailableException)
        {
            await GatewayResponses.StoreUnavailableAsync(context);
            return;
        }
        await next(context);
    }
}
