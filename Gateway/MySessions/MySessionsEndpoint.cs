using System.Globalization;
using System.Text;
using Gateway.Hosting;
using Gateway.Observability;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.MySessions;

/// <summary>
/// "Your sessions": a signed-in user sees each of their live sessions (started, last used to the minute, browser
/// and device, truncated address, how it signed in, which one is this browser) and can end one or all others,
/// on every replica at once. Sessions are named by their short hash, never their id; a hash that is not one of
/// the caller's own sessions is a 404 and changes nothing.
/// </summary>
internal sealed class MySessionsEndpoint(SessionManager sessions, FormTokens formTokens, Hosting.GatewayEndpointPaths paths, GatewayMetrics metrics)
{
    public async Task ShowAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>()?.Session is not { } current)
        {
            await context.ChallengeAsync();
            return;
        }
        var own = await sessions.ListOwnAsync(current.Record.UserId, context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        if (WantsJson(context.Request))
        {
            await context.Response.WriteAsJsonAsync(new
            {
                sessions = own.Select(s => new
                {
                    hash = s.Summary.SessionHash,
                    startedAt = ToMinute(s.Summary.CreatedAt),
                    lastUsedAt = ToMinute(s.Summary.LastUsedAt),
                    device = s.Summary.Device,
                    network = s.Summary.Network,
                    method = s.Summary.Method,
                    thisBrowser = s.Handle == current.Key.Handle,
                }),
            }, context.RequestAborted);
            return;
        }
        await GatewayResponses.PageAsync(context, StatusCodes.Status200OK, "Your sessions", Render(context, own, current.Key.Handle));
    }

    public async Task RevokeAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>()?.Session is not { } current)
        {
            await context.ChallengeAsync();
            return;
        }
        IFormCollection form;
        try
        {
            form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : FormCollection.Empty;
        }
        catch (InvalidDataException)
        {
            await AnswerAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "The form could not be read.");
            return;
        }
        // The session cookie rides along on any site's request: a change must come from our own page.
        if (!await formTokens.IsFromOurPageAsync(context))
        {
            metrics.AuthFailure("cross-site-session-revoke");
            await AnswerAsync(context, StatusCodes.Status403Forbidden, "forbidden", "Ending a session must be asked from this site.");
            return;
        }

        var own = await sessions.ListOwnAsync(current.Record.UserId, context.RequestAborted);
        var mine = current.Key.Handle;
        List<SessionHandle> targets;
        if (string.Equals(form["others"], "true", StringComparison.OrdinalIgnoreCase))
        {
            targets = own.Where(s => s.Handle != mine).Select(s => s.Handle).ToList();
        }
        else
        {
            var hash = form["session"].ToString();
            var match = own.FirstOrDefault(s => string.Equals(s.Summary.SessionHash, hash, StringComparison.Ordinal));
            if (match.Summary is null)
            {
                await AnswerAsync(context, StatusCodes.Status404NotFound, "not_found", "You have no such session.");
                return;
            }
            if (match.Handle == mine)
            {
                await AnswerAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "This is the session of this browser: sign out instead.");
                return;
            }
            targets = [match.Handle];
        }
        var count = await sessions.RevokeHandlesAsync(targets, "user-revoke", context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        if (WantsJson(context.Request))
        {
            await context.Response.WriteAsJsonAsync(new { revoked = count }, context.RequestAborted);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = context.Request.PathBase + paths.MySessions;
    }

    private string Render(HttpContext context, IReadOnlyList<(SessionHandle Handle, SessionSummary Summary)> own, SessionHandle mine)
    {
        var action = GatewayResponses.Encode(context.Request.PathBase + paths.MySessionsRevoke);
        var token = formTokens.HiddenField(context);
        var rows = new StringBuilder();
        foreach (var (handle, s) in own)
        {
            var isMine = handle == mine;
            rows.Append(CultureInfo.InvariantCulture, $"""
                <tr id="session-{GatewayResponses.Encode(s.SessionHash)}"><td>{GatewayResponses.Encode(s.Device ?? "Unknown browser")}{(isMine ? " <strong class=\"this\">(this browser)</strong>" : "")}</td>
                <td>{GatewayResponses.Encode(s.Network ?? "")}</td><td>{GatewayResponses.Encode(s.Method)}</td>
                <td>{Minute(s.CreatedAt)}</td><td>{Minute(s.LastUsedAt)}</td>
                <td>{(isMine ? "" : $"<form method=\"post\" action=\"{action}\">{token}<input type=\"hidden\" name=\"session\" value=\"{GatewayResponses.Encode(s.SessionHash)}\"><button type=\"submit\" class=\"end\">End</button></form>")}</td></tr>
                """);
        }
        return $"""
            <p>Every place you are signed in. End any you do not recognise, or one left open on a shared computer.</p>
            <table><thead><tr><th>Browser</th><th>Network</th><th>Sign-in</th><th>Started</th><th>Last used</th><th></th></tr></thead>
            <tbody>{rows}</tbody></table>
            <form method="post" action="{action}">{token}<input type="hidden" name="others" value="true"><button id="end-others" type="submit">End all other sessions</button></form>
            """;
    }

    private static Task AnswerAsync(HttpContext context, int status, string error, string message) =>
        WantsJson(context.Request)
            ? GatewayResponses.JsonErrorAsync(context, status, error, message, null)
            : GatewayResponses.PageAsync(context, status, "Your sessions", $"<p role=\"alert\">{GatewayResponses.Encode(message)}</p>");

    private static bool WantsJson(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && a.Contains("application/json", StringComparison.OrdinalIgnoreCase));

    private static DateTimeOffset ToMinute(DateTimeOffset at) => new(at.Ticks - at.Ticks % TimeSpan.TicksPerMinute, at.Offset);

    private static string Minute(DateTimeOffset at) => ToMinute(at).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
