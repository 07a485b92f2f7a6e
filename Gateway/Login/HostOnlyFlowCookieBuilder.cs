namespace Gateway.Login;

/// <summary>
/// The OpenID Connect handler's correlation and nonce cookies, host-only: on https named with the <c>__Host-</c> prefix
/// (Secure, Path=/, no Domain), which a sibling subdomain cannot set. Without it a sibling could plant the correlation
/// and nonce of a sign-in it started as itself and send the victim's browser to the callback with its code: a login CSRF
/// that leaves the victim signed in to the attacker's account. The handler reads <see cref="Name"/> with no request in
/// hand, so the prefix is decided from the current request.
/// </summary>
internal sealed class HostOnlyFlowCookieBuilder(IHttpContextAccessor requests, TimeSpan lifetime) : CookieBuilder
{
    private string? _name;

    public override string? Name
    {
        get => _name is null ? null : Security.GatewayCookieNames.HostOnly(_name, requests.HttpContext?.Request.IsHttps == true);
        set => _name = value;
    }

    public override CookieOptions Build(HttpContext context, DateTimeOffset expiresFrom)
    {
        var options = base.Build(context, expiresFrom);
        // What the prefix demands, on http too, where it is simply host-only.
        options.Path = "/";
        options.Domain = null;
        options.Secure = context.Request.IsHttps;
        options.Expires ??= expiresFrom.Add(lifetime);
        return options;
    }
}
