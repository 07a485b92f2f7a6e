using System.Globalization;
using Gateway.Hosting;
using Gateway.Observability;
using Gateway.Routing;

namespace Gateway.Login;

/// <summary>
/// Asks a signed-in user for a more recent (or stronger) sign-in, leaving the session as it is: a browser navigation goes
/// to the login with a way back to the page, anything else gets 401 with RFC 9470's
/// <c>insufficient_user_authentication</c> challenge.
/// </summary>
internal sealed partial class StepUpChallenge(GatewayEndpointPaths paths, GatewayMetrics metrics, ILogger<StepUpChallenge> logger)
{
    /// <summary>The login's query parameter that says a page asked for the sign-in (the form explains why).</summary>
    public const string MaxAgeParameter = "max_age";
    public const string AcrValuesParameter = "acr_values";

    public Task AskAsync(HttpContext context, RecentSignInRequirement requirement)
    {
        metrics.AuthFailure("step-up");
        LogStepUp(logger, requirement.MaxAgeSeconds ?? -1, requirement.AcrValues.Length);
        var request = context.Request;
        if (GatewayResponses.IsBrowserNavigation(request) && HttpMethods.IsGet(request.Method))
        {
            var returnUrl = request.PathBase + request.Path + request.QueryString;
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Redirect($"{request.PathBase}{paths.Login}?returnUrl={Uri.EscapeDataString(returnUrl)}{requirement.LoginQuery()}");
            return Task.CompletedTask;
        }
        var challenge = "Bearer error=\"insufficient_user_authentication\", error_description=\"" + Description(requirement) + "\"";
        if (requirement.MaxAgeSeconds is { } seconds) challenge += ", max_age=" + seconds.ToString(CultureInfo.InvariantCulture);
        if (requirement.AcrValues.Length > 0) challenge += ", acr_values=\"" + string.Join(' ', requirement.AcrValues) + "\"";
        context.Response.Headers.WWWAuthenticate = challenge;
        return GatewayResponses.JsonErrorAsync(context, StatusCodes.Status401Unauthorized, "insufficient_user_authentication", Description(requirement), paths.Login);
    }

    private static string Description(RecentSignInRequirement requirement) =>
        requirement.MaxAgeSeconds is { } seconds
            ? $"A sign-in within the last {seconds.ToString(CultureInfo.InvariantCulture)} seconds is required" + (requirement.AcrValues.Length > 0 ? ", with a stronger method" : "")
            : "A stronger sign-in is required";

    [LoggerMessage(EventId = LogEvents.StepUpRequired, EventName = nameof(LogEvents.StepUpRequired), Level = LogLevel.Information,
        Message = "A route asked for a more recent or stronger sign-in (max_age {MaxAgeSeconds}, {AcrCount} acr value(s)); the session was kept")]
    private static partial void LogStepUp(ILogger logger, long maxAgeSeconds, int acrCount);
}
