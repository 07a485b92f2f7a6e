using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Login;

internal static class OidcRegistration
{
    public static AuthenticationBuilder AddGatewayOidc(this AuthenticationBuilder builder, OidcOptions settings)
    {
        return builder.AddOAuth<OidcLoginOptions, OidcLoginHandler>(OidcLoginOptions.Scheme, o =>
        {
            o.ClientId = settings.ClientId!;
            o.ClientSecret = settings.ClientSecret!;
            o.CallbackPath = settings.CallbackPath;
            o.UsePkce = true;
            o.SaveTokens = false;
            o.SignInScheme = GatewaySessionSchemeOptions.Scheme;
            // Replaced from the discovery document on first use; OAuthOptions requires a value up front.
            o.AuthorizationEndpoint = settings.Authority!;
            o.TokenEndpoint = settings.Authority!;
            o.Scope.Clear();
            foreach (var scope in settings.EffectiveScopes) o.Scope.Add(scope);
            // The callback is a top-level GET from the provider: Lax is sent, and works on plain http test rigs.
            o.CorrelationCookie.SameSite = SameSiteMode.Lax;
            o.CorrelationCookie.Name = "gw_oidc_corr";
            // Secure whenever the request is https (directly or via a trusted proxy); the default (always Secure)
            // breaks login on a plain-http rig because the browser never sends the cookie back.
            o.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Events.OnRemoteFailure = context =>
            {
                context.HandleResponse();
                var logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Login.Oidc");
                var metrics = context.HttpContext.RequestServices.GetRequiredService<Observability.GatewayMetrics>();
                metrics.AuthFailure("oidc-callback");
                // The failure's message names the check that failed (state, correlation, token endpoint answer, id_token);
                // it carries no token or code values.
                OidcLog.Failed(logger, context.Failure?.GetType().Name ?? "unknown", context.Failure?.Message ?? "");
                return GatewayResponses.PageAsync(context.HttpContext, StatusCodes.Status400BadRequest, "Sign-in failed",
                    "<p>The sign-in could not be completed and no session was created. <a href=\"/login\">Try again</a>.</p>");
            };
        });
    }
}

internal static partial class OidcLog
{
    [LoggerMessage(EventId = Observability.LogEvents.OidcLoginFailed, EventName = nameof(Observability.LogEvents.OidcLoginFailed), Level = LogLevel.Warning,
        Message = "OIDC sign-in failed, no session created: {FailureType}: {Reason}")]
    public static partial void Failed(ILogger logger, string failureType, string reason);
}
