using System.Security.Claims;
using System.Text.Encodings.Web;
using Gateway.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

internal sealed class GatewaySessionSchemeOptions : AuthenticationSchemeOptions
{
    public const string Scheme = "GatewaySession";
    public string LoginPath { get; set; } = "/login";
}

/// <summary>
/// Authenticates a request from the session cookie, signs a user in (new session every time), and
/// answers challenges: a browser navigation goes to the login page, an API call gets 401 JSON,
/// and when the store is down a protected route gets 503 — never a guess in either direction.
/// </summary>
internal sealed class GatewaySessionHandler(
    IOptionsMonitor<GatewaySessionSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    SessionCookies cookies,
    SessionManager sessions,
    SessionAuthenticator authenticator,
    TimeProvider time,
    IEnumerable<ISessionStartHook> startHooks,
    IEnumerable<ISessionEndingHook> endingHooks,
    IOptions<GatewaySessionOptions> sessionOptions)
    : SignInAuthenticationHandler<GatewaySessionSchemeOptions>(options, loggerFactory, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync() =>
        await authenticator.AuthenticateAsync(Context) is { } session
            ? AuthenticateResult.Success(new AuthenticationTicket(session.FrameworkPrincipal, Scheme.Name))
            : AuthenticateResult.NoResult();

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Features.Get<SessionStoreUnavailableFeature>() is not null)
        {
            await GatewayResponses.StoreUnavailableAsync(Context);
            return;
        }
        if (GatewayResponses.IsBrowserNavigation(Request))
        {
            var returnUrl = Request.PathBase + Request.Path + Request.QueryString;
            Response.Redirect($"{Options.LoginPath}?returnUrl={Uri.EscapeDataString(returnUrl)}");
            return;
        }
        await GatewayResponses.JsonErrorAsync(Context, StatusCodes.Status401Unauthorized, "unauthenticated", "Sign in first.", Options.LoginPath);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        GatewayResponses.IsBrowserNavigation(Request)
            ? GatewayResponses.PageAsync(Context, StatusCodes.Status403Forbidden, "Access denied", "<p>You are signed in, but this page needs a role you do not have.</p>")
            : GatewayResponses.JsonErrorAsync(Context, StatusCodes.Status403Forbidden, "forbidden", "Your account may not use this route.", null);

    protected override async Task HandleSignInAsync(ClaimsPrincipal user, AuthenticationProperties? properties)
    {
        // No fixation: the session a browser had before login is ended, and the new one gets a fresh id.
        foreach (var previous in cookies.ReadAll(Request))
            await sessions.RevokeAsync(previous, "replaced-by-login", Context.RequestAborted);
        var record = GatewayClaims.ToRecord(user, time.GetUtcNow(), sessionOptions.Value.AbsoluteLifetime) with
        {
            Device = DeviceDescription.Of(Request.Headers.UserAgent.ToString()),
            Network = DeviceDescription.Network(Context.Connection.RemoteIpAddress),
            BindingHash = cookies.Bind(Response),
        };
        // Before the session exists: a hook that refuses (the CMS user cannot be found) leaves no half-signed-in user.
        foreach (var hook in startHooks) record = await hook.StartingAsync(Context, user, record, Context.RequestAborted);
        SessionKey key;
        try
        {
            key = await sessions.CreateAsync(record, Context.RequestAborted);
        }
        catch (StoreUnavailableException)
        {
            // What the hooks started (the CMS session) must not outlive a sign-in that did not happen.
            try
            {
                foreach (var hook in endingHooks) await hook.EndingAsync(record, Context.RequestAborted);
            }
            catch (StoreUnavailableException)
            {
            }
            throw;
        }
        cookies.Append(Response, key);
    }

    protected override Task HandleSignOutAsync(AuthenticationProperties? properties) =>
        throw new NotSupportedException("Logout is handled by the logout service, which confirms the purge before clearing the cookie.");
}
