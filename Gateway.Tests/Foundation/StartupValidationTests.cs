using Gateway.Configuration;

namespace Gateway.Tests.Foundation;

public sealed class StartupValidationTests
{
    [Fact]
    public async Task Missing_route_file_stops_startup_naming_the_file()
    {
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig { ProxyJson = "<none>" }));
        Assert.Contains("proxy.json: the route file does not exist (set Gateway:ProxyConfigPath).", ex.Message);
    }

    [Fact]
    public async Task Invalid_json_stops_startup_naming_the_file_and_line()
    {
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig { ProxyJson = "{\n \"ReverseProxy\": {\n  \"Routes\": { \"a\": \n" }));
        Assert.Matches(@"proxy\.json: invalid JSON at line \d+", ex.Message);
    }

    [Fact]
    public async Task Route_naming_a_missing_cluster_stops_startup_naming_route_and_field()
    {
        var json = """{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "nowhere", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/news" } } }, "Clusters": { "cms": { "Destinations": { "a": { "Address": "http://127.0.0.1:9/" } } } } } }""";
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig { ProxyJson = json }));
        Assert.Contains("route 'news', field 'ClusterId': cluster 'nowhere' is not defined under ReverseProxy.Clusters.", ex.Message);
    }

    [Fact]
    public async Task Settings_that_cannot_work_in_production_are_all_listed_by_key_in_one_message()
    {
        var config = new GatewayConfig { Environment = "Production" }
            .Set("Gateway:AllowInMemorySessions", null)
            .Set("Gateway:Login:AllowDevUsers", null)
            .Set("Gateway:Login:Oidc:Authority", "http://idp.example")
            .Set("Gateway:Redis:KeyPrefix", "bad{prefix");
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(config));
        Assert.Contains("Gateway:Redis:Configuration: is empty outside Development", ex.Message);
        Assert.Contains("Gateway:Login:DevUsers: dev users are configured outside Development", ex.Message);
        Assert.Contains("Gateway:Login:Oidc:Authority: must be https", ex.Message);
        Assert.Contains("Gateway:Login:Oidc:ClientId: is required", ex.Message);
        Assert.Contains("Gateway:Redis:KeyPrefix: must be non-empty and hold no '{'", ex.Message);
    }

    [Fact]
    public async Task Replica_acknowledgement_settings_out_of_range_are_refused_by_name()
    {
        var config = new GatewayConfig().WithRedis("127.0.0.1:1")
            .Set("Gateway:Redis:WaitReplicas", "-1")
            .Set("Gateway:Redis:WaitTimeout", "00:01:00");
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(config));
        Assert.Contains("Gateway:Redis:WaitReplicas: must be between 0 (never wait for a replica) and 16.", ex.Message);
        Assert.Contains("Gateway:Redis:WaitTimeout: must be between 00:00:00.010 and 00:00:10.", ex.Message);
    }

    [Fact]
    public async Task Unconvertible_setting_value_names_the_setting()
    {
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig().Set("Gateway:Session:IdleTimeout", "twenty minutes")));
        Assert.Contains("Gateway:Session:IdleTimeout", ex.Message);
    }

    [Fact]
    public async Task Gateway_process_exits_2_and_prints_every_route_file_problem()
    {
        var json = """{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "AuthorizationPolicy": "editors-only", "Match": { "Path": "/news" } } }, "Clusters": { "cms": { "Destinations": { } } } } }""";
        await using var gateway = GatewayProcess.Launch(new GatewayConfig { ProxyJson = json });
        Assert.Equal(2, await gateway.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Gateway cannot start:", gateway.Output);
        Assert.Contains("route 'news': Authorization policy 'editors-only' not found for route 'news'.", gateway.Output);
        Assert.Contains("cluster 'cms', field 'Destinations': no destinations", gateway.Output);
    }
}
