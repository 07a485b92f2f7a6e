namespace Gateway.Tests.Identity;

public sealed class ForwardedHeaderTests(SharedRedis redis)
{
    [Fact]
    public async Task An_ipv4_client_on_a_dual_stack_socket_is_forwarded_as_plain_ipv4()
    {
        var port = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{port}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration);
        await using var gateway = await GatewayHost.StartAsync(config, url: $"http://[::]:{port}");
        using var http = new HttpClient();
        var seen = await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{port}/whoami");
        var headers = seen.GetProperty("headers");
        Assert.Equal("127.0.0.1", headers.GetProperty("x-forwarded-for").GetString());
        Assert.Equal("http", headers.GetProperty("x-forwarded-proto").GetString());
        Assert.Equal($"127.0.0.1:{port}", headers.GetProperty("x-forwarded-host").GetString());
    }

    [Fact]
    public async Task A_known_ipv4_proxy_on_a_dual_stack_socket_is_trusted_and_an_unknown_client_is_not()
    {
        // The proxy's connection arrives as ::ffff:127.0.0.1; the setting names it as 127.0.0.1.
        var port = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{port}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration).Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1");
        await using var gateway = await GatewayHost.StartAsync(config, url: $"http://[::]:{port}");
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/whoami");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        var seen = await (await http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("203.0.113.9", seen.GetProperty("headers").GetProperty("x-forwarded-for").GetString());

        await using var untrusting = await GatewayHost.StartAsync(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration)
            .Set("Gateway:Forwarding:KnownProxies:0", "192.0.2.1"), url: $"http://[::]:{Tools.FreePort()}");
        var other = new Uri(untrusting.BaseUrl);
        request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{other.Port}/whoami");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        seen = await (await http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("127.0.0.1", seen.GetProperty("headers").GetProperty("x-forwarded-for").GetString());
    }

    [Fact]
    public async Task A_client_supplied_x_forwarded_for_is_replaced_not_trusted()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.Add("X-Forwarded-For", "10.9.8.7");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var seen = await (await browser.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("127.0.0.1", seen.GetProperty("headers").GetProperty("x-forwarded-for").GetString());
        Assert.Equal("http", seen.GetProperty("headers").GetProperty("x-forwarded-proto").GetString());
    }
}
