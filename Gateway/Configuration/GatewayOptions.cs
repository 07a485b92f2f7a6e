using Gateway.Admin;
using Gateway.Identity;
using Gateway.Login;
using Gateway.Logout;
using Gateway.Redis;
using Gateway.Routing;
using Gateway.Sessions;

namespace Gateway.Configuration;

/// <summary>Everything under <c>Gateway:</c>. Each sub-section lives beside the feature that uses it.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>The YARP route file. Default <c>proxy.json</c> (relative to the content root).</summary>
    public string ProxyConfigPath { get; set; } = "proxy.json";

    /// <summary>How often the route file is checked for changes. Default 2 s.</summary>
    public TimeSpan ProxyConfigPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Allows the in-memory session store outside Development. Default false: production needs Redis.</summary>
    public bool AllowInMemorySessions { get; set; }

    public Hosting.GatewayPathOptions Paths { get; set; } = new();
    public RedisOptions Redis { get; set; } = new();
    public KeyRing.KeyRingOptions KeyRing { get; set; } = new();
    public GatewaySessionOptions Session { get; set; } = new();
    public LoginOptions Login { get; set; } = new();
    public IdentityOptions Identity { get; set; } = new();
    public LogoutOptions Logout { get; set; } = new();
    public ForwardingOptions Forwarding { get; set; } = new();
    public AdminOptions Admin { get; set; } = new();
    public WarmUp.WarmUpOptions WarmUp { get; set; } = new();
    public LegacySignIn.LegacySignInOptions LegacySignIn { get; set; } = new();

    /// <summary>Named route policies, referenced from proxy.json <c>AuthorizationPolicy</c>.</summary>
    public Dictionary<string, RoutePolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Binds the <c>Gateway:</c> section. A value the binder cannot convert becomes a start-up error naming
    /// the key and the value (e.g. <c>Gateway:Session:IdleTimeout</c>).
    /// </summary>
    internal static GatewayOptions Read(IConfiguration configuration)
    {
        try
        {
            return configuration.GetSection(SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new GatewayStartupException("  - " + (ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}"));
        }
    }

    /// <summary>
    /// OTLP endpoint, e.g. <c>http://otel-collector:4317</c> (gRPC) or <c>http://otel-collector:4318/v1/metrics</c>
    /// (OTLP/HTTP). Empty: no export and no instrumentation at all.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Also export ASP.NET Core's, Kestrel's and the upstream HttpClient's meters. Default false: they cost CPU per request.</summary>
    public bool OtlpHttpMetrics { get; set; }

    /// <summary>Also export traces (one span per request and per upstream call, W3C traceparent sent upstream). Default false: it costs CPU per request.</summary>
    public bool OtlpTraces { get; set; }
}
