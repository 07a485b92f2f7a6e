using Gateway.LegacySignIn;
using StackExchange.Redis;

namespace Gateway.Tests.Rig;

/// <summary>
/// The legacy CMS written as the seed application is (Express, express-session + connect-redis, Passport local,
/// serializeUser by id; it trusts only its own session) on the shared Redis, and a gateway in front of it that signs
/// it in (<c>Gateway:LegacySignIn</c>), with the CMS's own logout path intercepted.
/// </summary>
internal sealed class LegacyCmsRig : IAsyncDisposable
{
    public const string Secret = "legacy-cms-secret";

    private LegacyCmsRig(NodeApp cms, GatewayHost gateway, GatewayConfig config, string redis)
    {
        Cms = cms;
        Gateway = gateway;
        Config = config;
        Redis = redis;
    }

    public NodeApp Cms { get; }
    public GatewayHost Gateway { get; }
    public GatewayConfig Config { get; }
    public string Redis { get; }

    public static async Task<LegacyCmsRig> StartAsync(string redisConfiguration, Action<GatewayConfig>? configure = null, string cmsSecrets = Secret, TimeProvider? time = null)
    {
        var cms = await StartCmsAsync(redisConfiguration, cmsSecrets);
        var config = Configure(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redisConfiguration), cms.BaseUrl);
        configure?.Invoke(config);
        var gateway = await GatewayHost.StartAsync(config, time);
        return new LegacyCmsRig(cms, gateway, config, redisConfiguration);
    }

    public static Task<NodeApp> StartCmsAsync(string redisConfiguration, string secrets = Secret) =>
        NodeApp.StartAsync("legacy-cms.mjs", "LEGACY_CMS_LISTENING", new Dictionary<string, string?>
        {
            ["REDIS_URL"] = $"redis://{redisConfiguration}",
            ["SESSION_SECRETS"] = secrets,
        });

    public static GatewayConfig Configure(GatewayConfig config, string cmsBaseUrl) => config
        .Set("Gateway:LegacySignIn:Enabled", "true")
        .Set("Gateway:LegacySignIn:Secrets:0", Secret)
        .Set("Gateway:LegacySignIn:UserId:LookupUrl", cmsBaseUrl + "/api/users/by-name/{username}")
        .Set("Gateway:LegacySignIn:UserId:JsonPointer", "/user/id")
        .Set("Gateway:LegacySignIn:Adopt:LookupUrl", cmsBaseUrl + "/api/users/{userId}")
        .Set("Gateway:LegacySignIn:Adopt:UsernamePointer", "/profile/username")
        .Set("Gateway:Logout:Paths:2", "/cms-logout")
        // A user the gateway knows and the CMS does not: sign-in must be refused, not half done.
        .Set("Gateway:Login:DevUsers:2:Name", "ghost")
        .Set("Gateway:Login:DevUsers:2:Password", "ghost-password");

    /// <summary>Who the CMS says a request with these cookies is, asked at the CMS directly (not through the gateway).</summary>
    public async Task<CmsWho> AskCmsDirectlyAsync(string? cookie)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, Cms.BaseUrl + "/whoami");
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        return (await (await http.SendAsync(request)).Content.ReadFromJsonAsync<CmsWho>())!;
    }

    /// <summary>Signs in at the CMS itself (before the gateway, or beside it); returns its cookie as the browser would send it.</summary>
    public async Task<string> SignInAtCmsDirectlyAsync(string user, string password)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });
        var response = await http.PostAsync(Cms.BaseUrl + "/cms-login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = user, ["password"] = password }));
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("connect.sid=", StringComparison.Ordinal));
        return setCookie[..setCookie.IndexOf(';')];
    }

    /// <summary>The CMS's record of a session, as connect-redis stored it (null when there is none).</summary>
    public async Task<string?> CmsRecordAsync(string sessionId)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        return await redis.GetDatabase().StringGetAsync("sess:" + sessionId);
    }

    public async Task<TimeSpan?> CmsRecordTimeToLiveAsync(string sessionId)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        return await redis.GetDatabase().KeyTimeToLiveAsync("sess:" + sessionId);
    }

    public async Task DeleteCmsRecordAsync(string sessionId)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        await redis.GetDatabase().KeyDeleteAsync("sess:" + sessionId);
    }

    public async Task WriteCmsRecordAsync(string sessionId, string record)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        await redis.GetDatabase().StringSetAsync("sess:" + sessionId, record, TimeSpan.FromMinutes(10));
    }

    /// <summary>The cookie an express-session with <paramref name="secret"/> would set for <paramref name="sessionId"/>.</summary>
    public static string CmsCookie(string sessionId, string secret = Secret) =>
        "connect.sid=" + new ExpressSessionFormat([secret], "sess:", "/").CookieValue(sessionId);

    /// <summary>Reads a CMS Redis other than the rig's.</summary>
    public sealed class Probe(string redis)
    {
        public async Task<string?> RecordAsync(string sessionId)
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
            return await connection.GetDatabase().StringGetAsync("sess:" + sessionId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Cms.DisposeAsync();
    }
}

internal sealed record CmsWho(string? User, JsonElement Id, string SessionId);
