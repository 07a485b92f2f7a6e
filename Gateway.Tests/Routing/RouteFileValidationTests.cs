using Gateway.Routing;

namespace Gateway.Tests.Routing;

public sealed class RouteFileValidationTests
{
    [Theory]
    [MemberData(nameof(RouteFileRules.Broken), MemberType = typeof(RouteFileRules))]
    public async Task Broken_route_file_is_rejected_naming_the_problem(string name, string content, string expected)
    {
        _ = name;
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig());
        var validator = gateway.Services.GetRequiredService<ProxyConfigValidator>();
        var snapshot = ProxyConfigFileReader.Parse("/etc/gateway/proxy.json", System.Text.Encoding.UTF8.GetBytes(content), null);
        var errors = await validator.ValidateAsync("/etc/gateway/proxy.json", snapshot);
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.StartsWith("/etc/gateway/proxy.json: ", e));
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_problem_in_a_file_is_reported_not_just_the_first()
    {
        var content = """{ "ReverseProxy": { "Routes": { "a": { "ClusterId": "x", "Match": { "Path": "/a" } }, "b": { "ClusterId": "y", "Match": { "Path": "/b" } } }, "Clusters": { "c": { } } } }""";
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig());
        var errors = await gateway.Services.GetRequiredService<ProxyConfigValidator>()
            .ValidateAsync("p.json", ProxyConfigFileReader.Parse("p.json", System.Text.Encoding.UTF8.GetBytes(content), null));
        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public void Environment_overrides_replace_a_destination_without_editing_the_file()
    {
        var overrides = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ReverseProxy:Clusters:cms:Destinations:primary:Address"] = "http://cms.internal:3000/",
        }).Build();
        var content = File.ReadAllBytes(Path.Combine(Tools.RepoRoot, "proxy.json"));
        var snapshot = ProxyConfigFileReader.Parse("proxy.json", content, overrides);
        Assert.True(snapshot.IsValid, string.Join("\n", snapshot.Errors));
        Assert.Equal("http://cms.internal:3000/", snapshot.Clusters.Single().Destinations!["primary"].Address);
    }
}
