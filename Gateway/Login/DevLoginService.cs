using System.Security.Claims;
using Gateway.Health;
using Gateway.Hosting;
using Gateway.Observability;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Login;

/// <summary>The built-in login form for configured dev users.</summary>
internal sealed partial class DevLoginService(
    Hosting.GatewayEndpointPaths paths,
    IHostEnvironment environment,
    DevUserDirectory users,
    LoginAttemptLimiter limiter,
    FormTokens formTokens,
    IStoreReadiness store,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<DevLoginService> logger)
{
    /// <param name="notice">Why the form is shown (a page asked for a recent sign-in), or null.</param>
    public async Task ShowFormAsync(HttpContext context, string returnUrl, string? notice = null)
    {
        if (!users.Enabled)
        {
            await GatewayResponses.PageAsync(context, StatusCodes.Status404NotFound, "No login configured",
                "<p>This gateway has neither an OpenID Connect provider nor dev users enabled.</p>");
            return;
        }
        if (!(await store.CheckAsync(context.RequestAborted)).Ready)
        {
            await GatewayResponses.StoreUnavailableAsync(context);
            return;
        }
        await RenderFormAsync(context, StatusCodes.Status200OK, returnUrl, notice);
    }

    public async Task SubmitAsync(HttpContext context)
    {
        if (await ReadSubmissionAsync(context) is not { } submission) return;
        if (await VerifyAsync(context, submission) is not { } user) return;
        var claims = new List<Claim>
        {
            new(GatewayClaims.UserId, user.Name), new(GatewayClaims.Name, user.Name), new(GatewayClaims.Method, "dev"),
            // An interactive sign-in, now: what a policy's MaxAuthenticationAge is measured from.
            new(GatewayClaims.AuthenticatedAt, time.GetUtcNow().ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        if (user.Email is not null) claims.Add(new Claim(GatewayClaims.Email, user.Email));
        claims.AddRange(user.Roles.Select(r => new Claim(GatewayClaims.Role, r)));
        try
        {
            await context.SignInAsync(GatewaySessionSchemeOptions.Scheme, new ClaimsPrincipal(new ClaimsIdentity(claims, "dev")));
        }
        catch (StoreUnavailableException)
        {
            await GatewayResponses.StoreUnavailableAsync(context, "<p>Sign-in is temporarily unavailable; nothing was changed. Please try again in a few seconds.</p>");
            return;
        }
        catch (SessionStartRefusedException ex)
        {
            metrics.AuthFailure("sign-in-refused");
            await GatewayResponses.SignInRefusedAsync(context, ex.Message);
            return;
        }
        LogSucceeded(logger, "dev");
        context.Response.Headers.CacheControl = "no-store";
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = submission.ReturnUrl;
    }

    /// <summary>A submitted sign-in form, read and checked: where to go after, and who signs in.</summary>
    private sealed record Submission(IFormCollection Form, string ReturnUrl, string Name);

    /// <summary>
    /// The form, when dev users are on and it was posted from this site's form (same site, unexpired antiforgery
    /// token, a user name of a sane length); otherwise null, with the answer already given.
    /// </summary>
    private async Task<Submission?> ReadSubmissionAsync(HttpContext context)
    {
        if (!users.Enabled)
        {
            await GatewayResponses.PageAsync(context, StatusCodes.Status404NotFound, "No login configured", "<p>Dev users are not enabled.</p>");
            return null;
        }
        if (!context.Request.HasFormContentType)
        {
            await GatewayResponses.PageAsync(context, StatusCodes.Status400BadRequest, "Bad request", "<p>Expected a form post.</p>");
            return null;
        }
        if (Security.CrossSiteGuard.IsForeign(context.Request))
        {
            // Login CSRF: another site must not sign this browser in (as the attacker, say).
            metrics.AuthFailure("cross-site-login");
            await RenderFormAsync(context, StatusCodes.Status403Forbidden, "/", "Sign-in must be submitted from the sign-in form of this site.");
            return null;
        }
        IFormCollection form;
        try
        {
            // Bounded by RequestBodyGuard: at most RequestBodyLimit.Form bytes, held in memory.
            form = await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (InvalidDataException)
        {
            // A malformed form (a NUL in a field, an oversized value): say so with the same form, never a 500.
            metrics.AuthFailure("malformed-form");
            await RenderFormAsync(context, StatusCodes.Status400BadRequest, "/", "The form could not be read. Please sign in again.");
            return null;
        }
        var returnUrl = LocalRedirect.OrDefault(form["returnUrl"], "/");
        if (!await formTokens.IsValidAsync(context))
        {
            metrics.AuthFailure("antiforgery");
            await RenderFormAsync(context, StatusCodes.Status400BadRequest, returnUrl, "The form expired. Please sign in again.");
            return null;
        }
        var name = form["username"].ToString();
        if (name.Length > LoginOptions.MaxUserNameLength)
        {
            metrics.AuthFailure("malformed-form");
            await RenderFormAsync(context, StatusCodes.Status400BadRequest, returnUrl, $"User names are at most {LoginOptions.MaxUserNameLength} characters.");
            return null;
        }
        return new Submission(form, returnUrl, name);
    }

    /// <summary>The user, when the attempt is within the limits and the password is theirs; otherwise null, answered.</summary>
    private async Task<DevUser?> VerifyAsync(HttpContext context, Submission submission)
    {
        var client = context.Connection.RemoteIpAddress?.ToString();
        var attempt = await limiter.BeginAsync(submission.Name, client, context.RequestAborted);
        if (attempt is null)
        {
            metrics.AuthFailure("rate-limited");
            LogRateLimited(logger, client);
            context.Response.Headers.RetryAfter = "60";
            await RenderFormAsync(context, StatusCodes.Status429TooManyRequests, submission.ReturnUrl, "Too many attempts. Wait a minute and try again.");
            return null;
        }
        var user = users.Verify(submission.Name, submission.Form["password"]);
        if (user is null)
        {
            // Counted already, when the attempt began.
            metrics.AuthFailure("bad-credentials");
            LogFailed(logger, client);
            await RenderFormAsync(context, StatusCodes.Status401Unauthorized, submission.ReturnUrl, "Invalid user name or password.");
            return null;
        }
        await limiter.SucceededAsync(attempt, context.RequestAborted);
        return user;
    }

    private async Task RenderFormAsync(HttpContext context, int status, string returnUrl, string? error)
    {
        var message = error is null ? "" : $"<p role=\"alert\" id=\"error\" style=\"color:#b00\">{GatewayResponses.Encode(error)}</p>";
        // A newcomer trying the demo needs to know who to be; never shown outside Development.
        if (environment.IsDevelopment())
            message += "<p id=\"dev-users\">Development users: " + string.Join(", ", users.Users.Select(u =>
                $"<strong>{GatewayResponses.Encode(u.Name)}</strong> ({GatewayResponses.Encode(string.Join(", ", u.Roles))})")) +
                ". Their passwords are in <code>Gateway/appsettings.Development.json</code>.</p>";
        await GatewayResponses.PageAsync(context, status, "Sign in", message + $"""
            <form method="post" action="{GatewayResponses.Encode(context.Request.PathBase + paths.Login)}">
              {formTokens.HiddenField(context)}
              <input type="hidden" name="returnUrl" value="{GatewayResponses.Encode(returnUrl)}">
              <p><label>User name <input id="username" name="username" autocomplete="username" required autofocus></label></p>
              <p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
              <p><button id="signin" type="submit">Sign in</button></p>
            </form>
            """);
    }

    [LoggerMessage(EventId = LogEvents.LoginSucceeded, EventName = nameof(LogEvents.LoginSucceeded), Level = LogLevel.Information, Message = "Login succeeded ({Method})")]
    private static partial void LogSucceeded(ILogger logger, string method);

    [LoggerMessage(EventId = LogEvents.LoginFailed, EventName = nameof(LogEvents.LoginFailed), Level = LogLevel.Warning, Message = "Login failed: bad credentials from {ClientAddress}")]
    private static partial void LogFailed(ILogger logger, string? clientAddress);

    [LoggerMessage(EventId = LogEvents.LoginRateLimited, EventName = nameof(LogEvents.LoginRateLimited), Level = LogLevel.Warning, Message = "Login rate-limited for {ClientAddress}")]
    private static partial void LogRateLimited(ILogger logger, string? clientAddress);
}
