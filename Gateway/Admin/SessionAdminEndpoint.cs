using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Gateway.Admin;

/// <summary>
/// <c>GET /_gateway/sessions?user=ID</c> lists a user's sessions (hashes only);
/// <c>POST /_gateway/sessions/revoke?user=ID</c> or <c>?all=true</c> revokes them on every replica.
/// Allowed with <c>Authorization: Bearer &lt;Gateway:Admin:ApiKey&gt;</c> (constant-time compare) or
/// for a signed-in member of <c>Gateway:Admin:Policy</c>. Off when neither is configured.
/// </summary>
internal sealed partial class SessionAdminEndpoint(
    IOptions<AdminOptions> options,
    SessionManager sessions,
    IAuthorizationService authorization,
    Security.FormTokens formTokens,
    AdminKey adminKey,
    ILogger<SessionAdminEndpoint> logger)
{
    private readonly AdminOptions _options = options.Value;

    public async Task ListAsync(HttpContext context)
    {
        if (!await AuthorizeAsync(context)) return;
        var user = context.Request.Query["user"].ToString();
        if (user.Length == 0)
        {
            await GatewayResponses.JsonErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "Give ?user=<id>.", null);
            return;
        }
        var list = await sessions.ListUserAsync(user, context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(new { user, sessions = list }, context.RequestAborted);
    }

    public async Task RevokeAsync(HttpContext context)
    {
        if (!await AuthorizeAsync(context)) return;
        var user = context.Request.Query["user"].ToString();
        var all = string.Equals(context.Request.Query["all"], "true", StringComparison.OrdinalIgnoreCase);
        if ((user.Length > 0) == all)
        {
            await GatewayResponses.JsonErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "Give exactly one of ?user=<id> or ?all=true.", null);
            return;
        }
        var count = all
            ? await sessions.RevokeAllAsync("admin-revoke-all", context.RequestAborted)
            : await sessions.RevokeUserAsync(user, "admin-revoke-user", null, context.RequestAborted);
        LogRevoked(logger, all ? "*" : SessionKey.TagFor(user), count);
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(new { revoked = count }, context.RequestAborted);
    }

    private async Task<bool> AuthorizeAsync(HttpContext context)
    {
        if (!adminKey.IsConfigured && string.IsNullOrEmpty(_options.Policy))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return false;
        }
        switch (adminKey.Check(context.Request))
        {
            case true: return true;
            case false: return await DenyAsync(context, StatusCodes.Status403Forbidden, "The admin key is not valid.");
        }
        if (!string.IsNullOrEmpty(_options.Policy) && context.User.Identity?.IsAuthenticated == true)
        {
            if (!(await authorization.AuthorizeAsync(context.User, _options.Policy)).Succeeded)
                return await DenyAsync(context, StatusCodes.Status403Forbidden, "Your account may not administer sessions.");
            // A browser session sends its cookie on any site's request: a change must come from this origin (CSRF).
            if (HttpMethods.IsPost(context.Request.Method) && !await formTokens.IsFromOurPageAsync(context))
                return await DenyAsync(context, StatusCodes.Status403Forbidden, "A change made with a browser session must come from this site (same origin or the form's token).");
            return true;
        }
        return await DenyAsync(context, StatusCodes.Status401Unauthorized, "Admin credentials required.");
    }

    private async Task<bool> DenyAsync(HttpContext context, int status, string message)
    {
        LogDenied(logger, status);
        await GatewayResponses.JsonErrorAsync(context, status, status == 401 ? "unauthenticated" : "forbidden", message, null);
        return false;
    }

    [LoggerMessage(EventId = LogEvents.AdminRevocation, EventName = nameof(LogEvents.AdminRevocation), Level = LogLevel.Warning,
        Message = "Admin revoked {Count} session(s) for {Scope}")]
    private static partial void LogRevoked(ILogger logger, string scope, int count);

    [LoggerMessage(EventId = LogEvents.AdminDenied, EventName = nameof(LogEvents.AdminDenied), Level = LogLevel.Warning,
        Message = "Admin request denied with {Status}")]
    private static partial void LogDenied(ILogger logger, int status);
}
