using Gateway.Configuration;
using Gateway.Sessions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Gateway.Identity;

/// <summary>
/// Added to every route: injects the identity headers for a signed-in request, removes the
/// gateway's own cookie from what goes upstream, drops an upstream Set-Cookie for that cookie,
/// and keeps signed-in responses out of shared caches.
/// </summary>
internal sealed class IdentityTransformProvider(IOptions<GatewayOptions> options, AssertionIssuer assertions, SessionCookies cookies) : ITransformProvider
{
    private readonly IdentityOptions _identity = options.Value.Identity;

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
        var cookieNames = cookies.AllNames;
        context.AddRequestTransform(transform => InjectAsync(transform, settings, cookieNames));
        context.AddResponseTransform(transform =>
        {
            DropSessionCookie(transform.HttpContext.Response.Headers, cookieNames);
            if (transform.HttpContext.Features.Get<SessionFeature>() is not null)
                GuardCaching(transform.HttpContext.Response.Headers, settings.AuthenticatedCacheControl);
            return ValueTask.CompletedTask;
        });
    }

    private async ValueTask InjectAsync(RequestTransformContext transform, RouteIdentitySettings settings, IReadOnlyList<string> cookieNames)
    {
        RemoveSessionCookie(transform, cookieNames);
        if (transform.HttpContext.Features.Get<SessionFeature>() is not { } feature) return;
        var values = IdentityHeaderValues.For(feature.Session);
        var headers = transform.ProxyRequest.Headers;
        if (settings.User) headers.TryAddWithoutValidation(_identity.UserHeader, values.User);
        if (settings.Email && values.Email is not null) headers.TryAddWithoutValidation(_identity.EmailHeader, values.Email);
        if (settings.Name && values.Name is not null) headers.TryAddWithoutValidation(_identity.NameHeader, values.Name);
        if (settings.Roles) headers.TryAddWithoutValidation(_identity.RolesHeader, values.Roles);
        if (settings.Assertion)
            headers.TryAddWithoutValidation(_identity.AssertionHeader, await assertions.GetAsync(feature.Session, settings.Audience, transform.CancellationToken));
    }

    private static void RemoveSessionCookie(RequestTransformContext transform, IReadOnlyList<string> cookieNames)
    {
        var requestCookies = transform.HttpContext.Request.Cookies;
        var present = false;
        foreach (var name in cookieNames) present |= requestCookies.ContainsKey(name);
        if (!present) return;

        var headers = transform.ProxyRequest.Headers;
        if (!headers.TryGetValues(HeaderNames.Cookie, out var values)) return;
        var kept = new List<string>();
        foreach (var value in values)
        {
            foreach (var pair in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=');
                var name = eq < 0 ? pair : pair[..eq];
                if (!cookieNames.Contains(name)) kept.Add(pair);
            }
        }
        headers.Remove(HeaderNames.Cookie);
        if (kept.Count > 0) headers.TryAddWithoutValidation(HeaderNames.Cookie, string.Join("; ", kept));
    }

    internal static void DropSessionCookie(IHeaderDictionary responseHeaders, IReadOnlyList<string> cookieNames)
    {
        var setCookies = responseHeaders.SetCookie;
        if (setCookies.Count == 0) return;
        var kept = new List<string>(setCookies.Count);
        foreach (var setCookie in setCookies)
        {
            if (setCookie is null) continue;
            var eq = setCookie.IndexOf('=');
            var name = (eq < 0 ? setCookie : setCookie[..eq]).Trim();
            if (!cookieNames.Contains(name)) kept.Add(setCookie);
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

/// <summary>The encoded header values of one session, computed once per cached session.</summary>
internal sealed record IdentityHeaderValues(string User, string? Email, string? Name, string Roles)
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<CachedSession, IdentityHeaderValues> Values = new();

    public static IdentityHeaderValues For(CachedSession session) =>
        Values.GetValue(session, static s => new IdentityHeaderValues(
            HeaderValueEncoder.Encode(s.Record.UserId),
            s.Record.Email is null ? null : HeaderValueEncoder.Encode(s.Record.Email),
            s.Record.Name is null ? null : HeaderValueEncoder.Encode(s.Record.Name),
            HeaderValueEncoder.Encode(string.Join(',', s.Record.Roles.Select(r => r.Replace(",", "", StringComparison.Ordinal))))));
}
