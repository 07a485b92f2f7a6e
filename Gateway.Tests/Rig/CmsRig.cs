namespace Gateway.Tests.Rig;

/// <summary>
/// The Express CMS stand-in on the shared Redis, plus a gateway (Redis-backed) in front of it.
/// The gateway's port is chosen first so the CMS can verify assertions against its JWKS.
/// </summary>
internal sealed class CmsRig : IAsyncDisposable
{
    private CmsRig(NodeApp cms, GatewayHost gateway, string prefix)
    {
        Cms = cms;
        Gateway = gateway;
        KeyPrefix = prefix;
    }

    public NodeApp Cms { get; }
    public GatewayHost Gateway { get; }
    public string KeyPrefix { get; }

    public static async Task<CmsRig> StartAsync(string redisConfiguration, Action<GatewayConfig>? configure = null, TimeProvider? time = null, string jwksPath = "/.well-known/jwks.json",
        Action<IServiceCollection>? services = null)
    {
        var port = Tools.FreePort();
        var cms = await StartCmsAsync(redisConfiguration, $"http://127.0.0.1:{port}", jwksPath);
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redisConfiguration);
        configure?.Invoke(config);
        var gateway = await GatewayHost.StartAsync(config, time, $"http://127.0.0.1:{port}", services);
        return new CmsRig(cms, gateway, config.Settings["Gateway:Redis:KeyPrefix"]!);
    }

    public static Task<NodeApp> StartCmsAsync(string redisConfiguration, string gatewayBaseUrl, string jwksPath = "/.well-known/jwks.json") =>
        NodeApp.StartAsync("cms.mjs", "CMS_LISTENING", new Dictionary<string, string?>
        {
            ["REDIS_URL"] = $"redis://{redisConfiguration}",
            ["SESSION_SECRET"] = GatewayConfig.CmsSecret,
            ["GATEWAY_JWKS_URL"] = gatewayBaseUrl + jwksPath,
        });

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Cms.DisposeAsync();
    }
}
