using System.Text.RegularExpressions;

namespace Gateway.Tests.Rig;

/// <summary>Gateway (Redis, OIDC) in front of the CMS, with node oidc-provider as the identity provider.</summary>
internal sealed partial class OidcRig : IAsyncDisposable
{
    private OidcRig(IdentityProvider idp, NodeApp cms, GatewayHost gateway, GatewayConfig config)
    {
        Config = config;
        Idp = idp;
        Cms = cms;
        Gateway = gateway;
    }

    public IdentityProvider Idp { get; }
    public NodeApp Cms { get; }
    public GatewayHost Gateway { get; }

    /// <summary>The gateway's settings, for a second replica on the same Redis and provider.</summary>
    public GatewayConfig Config { get; }

    public static async Task<OidcRig> StartAsync(string redisConfiguration, Action<GatewayConfig>? configure = null, int? accessTokenTtlSeconds = null,
        bool providerIgnoresMaxAge = false, string? providerAcr = null)
    {
        var port = Tools.FreePort();
        var gatewayUrl = $"http://127.0.0.1:{port}";
        var idp = await IdentityProvider.StartAsync(gatewayUrl, accessTokenTtlSeconds: accessTokenTtlSeconds, ignoresMaxAge: providerIgnoresMaxAge, acr: providerAcr);
        var cms = await CmsRig.StartCmsAsync(redisConfiguration, gatewayUrl);
        var config = idp.Configure(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redisConfiguration))
            .Set("Gateway:Login:Oidc:ClockSkew", "00:00:10");
        configure?.Invoke(config);
        var gateway = await GatewayHost.StartAsync(config, url: gatewayUrl);
        return new OidcRig(idp, cms, gateway, config);
    }

    /// <summary>
    /// Walks a browser through the provider: follows redirects, fills the dev login form with
    /// <paramref name="user"/>, confirms consent, and stops at the first gateway response that is not
    /// part of the flow, or (with <paramref name="stopAtCallback"/>) at the callback URL.
    /// </summary>
    public List<string> Trace { get; } = [];

    public async Task<(HttpResponseMessage Response, Uri? CallbackUrl)> LoginAsync(Browser browser, string user, string returnUrl = "/admin", bool stopAtCallback = false,
        string loginQuery = "")
    {
        var response = await browser.NavigateAsync($"/login?returnUrl={Uri.EscapeDataString(returnUrl)}{loginQuery}");
        var current = new Uri(Gateway.BaseUrl + "/login");
        for (var step = 0; step < 20; step++)
        {
            Trace.Add($"{current} -> {(int)response.StatusCode} {response.Headers.Location}");
            if (response.Headers.Location is { } location)
            {
                current = location.IsAbsoluteUri ? location : new Uri(current, location);
                if (current.AbsolutePath == "/signin-oidc" && stopAtCallback) return (response, current);
                if (current.GetLeftPart(UriPartial.Authority) == Gateway.BaseUrl && current.AbsolutePath != "/signin-oidc") return (response, null);
                response = await browser.Http.GetAsync(current);
                continue;
            }
            var html = await response.Content.ReadAsStringAsync();
            var form = FormPattern().Match(html);
            if (!form.Success || current.GetLeftPart(UriPartial.Authority) == Gateway.BaseUrl) return (response, null);
            var fields = new Dictionary<string, string>();
            foreach (Match input in InputPattern().Matches(form.Groups[2].Value))
            {
                var name = AttributePattern("name").Match(input.Value);
                var value = AttributePattern("value").Match(input.Value);
                if (name.Success) fields[name.Groups[1].Value] = value.Success ? System.Net.WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
            if (fields.ContainsKey("login")) fields["login"] = user;
            if (fields.ContainsKey("password")) fields["password"] = "any";
            current = new Uri(current, System.Net.WebUtility.HtmlDecode(form.Groups[1].Value));
            response = await browser.Http.PostAsync(current, new FormUrlEncodedContent(fields));
        }
        throw new InvalidOperationException("The OIDC flow did not finish in 20 steps.");
    }

    [GeneratedRegex("<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", RegexOptions.Singleline)]
    private static partial Regex FormPattern();

    [GeneratedRegex("<input[^>]*>")]
    private static partial Regex InputPattern();

    private static Regex AttributePattern(string attribute) => new($"\\s{attribute}=\"([^\"]*)\"");

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Cms.DisposeAsync();
        await Idp.DisposeAsync();
    }
}
