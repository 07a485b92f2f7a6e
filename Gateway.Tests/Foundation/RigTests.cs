namespace Gateway.Tests.Foundation;

public sealed class RigTests(SharedRedis redis)
{
    [Fact]
    public async Task Redis_CMS_and_identity_provider_are_really_up()
    {
        using var mux = await redis.Server.ConnectAsync();
        var db = mux.GetDatabase();
        await db.StringSetAsync("rig:probe", "up");
        Assert.Equal("up", (string?)await db.StringGetAsync("rig:probe"));

        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, "http://127.0.0.1:9");
        using var http = new HttpClient();
        Assert.Equal("ok", await http.GetStringAsync($"{cms.BaseUrl}/healthz"));

        await using var idp = await IdentityProvider.StartAsync("http://127.0.0.1:9");
        var discovery = await http.GetFromJsonAsync<JsonElement>($"{idp.Issuer}/.well-known/openid-configuration");
        Assert.Equal(idp.Issuer, discovery.GetProperty("issuer").GetString());
        Assert.Equal($"{idp.Issuer}/session/end", discovery.GetProperty("end_session_endpoint").GetString());
    }

    [Fact]
    public async Task Gateway_serves_health_and_readiness_on_a_real_port()
    {
        const string key = "rig-admin-key-0123456789abcdef0123456789";
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Admin:ApiKey", key));
        using var http = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Equal("ok", await http.GetStringAsync("/healthz"));
        var ready = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.StartsWith("redis ok", body.GetProperty("store").GetProperty("detail").GetString());
        Assert.True(body.GetProperty("routes").GetProperty("loaded").GetBoolean());
    }
}
