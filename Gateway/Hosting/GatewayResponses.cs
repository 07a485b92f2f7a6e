using System.Net;
using System.Text.Json;

namespace Gateway.Hosting;

/// <summary>The small pages and JSON bodies the gateway answers with itself.</summary>
internal static class GatewayResponses
{
    public const int RetryAfterSeconds = 5;

    /// <summary>A top-level navigation by a browser, as opposed to fetch/XHR or an API client.</summary>
    public static bool IsBrowserNavigation(HttpRequest request)
    {
        var headers = request.Headers;
        if (headers.TryGetValue("Sec-Fetch-Mode", out var mode) && mode.Count > 0)
            return string.Equals(mode[0], "navigate", StringComparison.OrdinalIgnoreCase);
        if (headers.ContainsKey("X-Requested-With")) return false;
        foreach (var accept in headers.Accept)
            if (accept is not null && accept.Contains("text/html", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    public static Task StoreUnavailableAsync(HttpContext context, string? retryForm = null)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers.CacheControl = "no-store";
        if (IsBrowserNavigation(context.Request) || retryForm is not null)
        {
            return PageAsync(context, StatusCodes.Status503ServiceUnavailable, "Temporarily unavailable",
                retryForm ?? "<p>Sign-in is temporarily unavailable. Nothing was changed. <a href=\"\">Try again</a> in a few seconds.</p>");
        }
        return JsonErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "session_store_unavailable", "Sessions cannot be checked right now; retry shortly.", null);
    }

    /// <summary>A sign-in that could not be completed (the CMS account could not be found): 502, nothing signed in.</summary>
    public static Task SignInRefusedAsync(HttpContext context, string reason) =>
        PageAsync(context, StatusCodes.Status502BadGateway, "Sign-in could not be completed",
            $"<p id=\"signin-refused\">You were not signed in: {Encode(reason)}.</p><p>Nothing was changed. Please try again later or contact support.</p>");

    /// <summary>What an unexpected failure answers, in every environment: a 500 that says nothing of the request (no cookie, no stack).</summary>
    public static Task UnexpectedErrorAsync(HttpContext context) =>
        JsonErrorAsync(context, StatusCodes.Status500InternalServerError, "internal_error", "The gateway could not answer this request; it was logged.", null);

    public static async Task JsonErrorAsync(HttpContext context, int status, string error, string message, string? login)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("error", error);
        writer.WriteString("message", message);
        if (login is not null) writer.WriteString("login", login);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <param name="bodyHtml">Trusted markup; callers encode any value they put in it with <see cref="Encode"/>.</param>
    public static Task PageAsync(HttpContext context, int status, string title, string bodyHtml)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(
            $"<!doctype html><html><head><meta charset=\"utf-8\"><title>{Encode(title)}</title>" +
            "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem}</style></head>" +
            $"<body><h1>{Encode(title)}</h1>{bodyHtml}</body></html>", context.RequestAborted);
    }

    public static string Encode(string? value) => WebUtility.HtmlEncode(value ?? "");
}
