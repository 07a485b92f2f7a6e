namespace Gateway.Security;

/// <summary>Tells a same-origin (or typed) request from one another site triggered: logout, login and form posts ask it.</summary>
internal static class CrossSiteGuard
{
    /// <summary>
    /// True when the browser says the request came from another site: Sec-Fetch-Site cross-site or
    /// same-site (a sibling subdomain is another origin), or else a foreign Origin or Referer.
    /// Typed URLs and bookmarks (Sec-Fetch-Site: none) and old clients that send none of these pass.
    /// </summary>
    public static bool IsForeign(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0)
            return !(site.Equals("same-origin", StringComparison.OrdinalIgnoreCase) || site.Equals("none", StringComparison.OrdinalIgnoreCase));
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0) return !IsSameOrigin(request, origin);
        var referer = request.Headers.Referer.ToString();
        return referer.Length > 0 && !IsSameOrigin(request, referer);
    }

    /// <summary>A POST is trusted without a token only when its Origin is ours.</summary>
    public static bool HasSameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        return origin.Length > 0 && IsSameOrigin(request, origin);
    }

    private static bool IsSameOrigin(HttpRequest request, string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
