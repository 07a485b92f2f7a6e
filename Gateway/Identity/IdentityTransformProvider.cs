using Gateway.Configuration;
using Gateway.Sessions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Gateway.Identity;

/// <summary>
/// Added to every route: injects the identity headers for a signed-in request, removes the
/// gateway's own cookies (every case variant and prefix) from what goes upstream, drops an upstream
/// Set-Cookie for any of them, and keeps signed-in responses out of shared caches.
/// </summary>
internal sealed class IdentityTransformProvider(IOptions<IdentityOptions> options, AssertionIssuer assertions, SessionCookies cookies, Connections.LiveConnectionRegistry connections) : ITransformProvider
{
    private readonly IdentityOptions _identity = options.Value;

    public void ValidateRoute(TransformRouteValidationContext context)
    {
        var errors = new List<string>();
        RouteIdentitySettings.Parse(context.Route, errors);
        foreach (var error in errors) context.Errors.Add(new ArgumentException(error));
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var settings = RouteIdentitySettings.Parse(context.Route, errors: null);
        context.AddRequestTransform(transform => InjectAsync(transform, settings));
        context.AddResponseTransform(transform =>
        {
            var response = transform.HttpContext.Response;
            DropGatewayCookies(response.Headers, cookies);
            if (transform.HttpContext.Features.Get<SessionFeature>() is { } feature)
            {
                GuardCaching(response.Headers, settings.AuthenticatedCacheControl);
                // An event stream the request did not announce (no Accept header) is tied to its session all the same.
                if (response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
                    response.RegisterForDispose(connections.Track(transform.HttpContext, feature.Session));
            }
            return ValueTask.CompletedTask;
        });
    }

    private async ValueTask InjectAsync(RequestTransformContext transform, RouteIdentitySettings settings)
    {
        RemoveGatewayCookies(transform, cookies);
        if (settings.ForwardAccessToken)
        {
            // Only the gateway's token goes to such a route: whatever the client sent is replaced or removed.
            transform.ProxyRequest.Headers.Authorization = null;
            if (transform.HttpContext.Features.Get<Tokens.AccessTokenFeature>() is { } token)
                transform.ProxyRequest.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Token);
        }
        if (transform.HttpContext.Features.Get<SessionFeature>() is not { } feature) return;
        var values = feature.Session.HeaderValues;
        var headers = transform.ProxyRequest.Headers;
        if (settings.User) headers.TryAddWithoutValidation(_identity.UserHeader, values.User);
        if (settings.Email && values.Email is not null) headers.TryAddWithoutValidation(_identity.EmailHeader, values.Email);
        if (settings.Name && values.Name is not null) headers.TryAddWithoutValidation(_identity.NameHeader, values.Name);
        if (settings.Roles) headers.TryAddWithoutValidation(_identity.RolesHeader, values.Roles);
        if (settings.Assertion)
            headers.TryAddWithoutValidation(_identity.AssertionHeader, await assertions.GetAsync(feature.Session, settings.Audience, transform.CancellationToken));
    }

    /// <summary>Removes every gateway cookie (any case, any prefix) from the Cookie header sent upstream; other cookies pass.</summary>
    private static void RemoveGatewayCookies(RequestTransformContext transform, SessionCookies cookies)
    {
        var incoming = transform.HttpContext.Request.Headers.Cookie;
        if (incoming.Count == 0 || !AnyGatewayCookie(incoming, cookies)) return;
        // Scanned as spans: a request that carries only gateway cookies (the usual case on a signed-in API call)
        // allocates nothing here; one with other cookies too allocates just the header that goes upstream.
        System.Text.StringBuilder? kept = null;
        foreach (var pair in CookieHeader.Pairs(incoming))
        {
            if (IsGatewayCookie(pair, cookies)) continue;
            kept ??= new System.Text.StringBuilder(pair.Length + 64);
            if (kept.Length > 0) kept.Append("; ");
            kept.Append(pair);
        }
        var headers = transform.ProxyRequest.Headers;
        headers.Remove(HeaderNames.Cookie);
        if (kept is not null) headers.TryAddWithoutValidation(HeaderNames.Cookie, kept.ToString());
    }

    private static bool AnyGatewayCookie(Microsoft.Extensions.Primitives.StringValues headers, SessionCookies cookies)
    {
        foreach (var pair in CookieHeader.Pairs(headers))
            if (IsGatewayCookie(pair, cookies)) return true;
        return false;
    }

    private static bool IsGatewayCookie(ReadOnlySpan<char> pair, SessionCookies cookies)
    {
        var eq = pair.IndexOf('=');
        return cookies.IsGatewayCookieName(eq < 0 ? pair : pair[..eq]);
    }

    /// <summary>Drops an upstream Set-Cookie for any gateway cookie name, in any case and with any prefix.</summary>
    internal static void DropGatewayCookies(IHeaderDictionary responseHeaders, SessionCookies cookies)
    {
        var setCookies = responseHeaders.SetCookie;
        if (setCookies.Count == 0) return;
        var kept = new List<string>(setCookies.Count);
        foreach (var setCookie in setCookies)
        {
            if (setCookie is not null && !cookies.SetsGatewayCookie(setCookie)) kept.Add(setCookie);
        }
        if (kept.Count != setCookies.Count) responseHeaders.SetCookie = kept.ToArray();
    }

    internal static void GuardCaching(IHeaderDictionary responseHeaders, string policy)
    {
        if (policy == "private")
        {
            var upstream = responseHeaders.CacheControl.ToString();
            if (upstream.Contains("no-store", StringComparison.OrdinalIgnoreCase) || upstream.Contains("private", StringComparison.OrdinalIgnoreCase)) return;
            // Keep the upstream's freshness for the browser, but never for a shared cache.
            var rest = string.Join(", ", upstream.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(d => !d.Equals("public", StringComparison.OrdinalIgnoreCase) && !d.StartsWith("s-maxage", StringComparison.OrdinalIgnoreCase)));
            responseHeaders.CacheControl = rest.Length == 0 ? "private" : "private, " + rest;
            return;
        }
        responseHeaders.CacheControl = "private, no-store";
        responseHeaders.Pragma = "no-cache";
    }
}
