namespace Gateway.Tests.Routing;

/// <summary><c>dotnet Gateway.dll config check FILE</c>: the offline check ops and CI run before an edit ships.</summary>
public sealed class ConfigCheckCommandTests
{
    [Fact]
    public async Task The_repository_route_file_passes()
    {
        var (exit, output) = await RunAsync(Path.Combine(Tools.RepoRoot, "proxy.json"));
        Assert.Equal(0, exit);
        Assert.Contains("OK (4 routes, 1 clusters)", output);
    }

    [Theory]
    [MemberData(nameof(RouteFileRules.Broken), MemberType = typeof(RouteFileRules))]
    public async Task A_broken_route_file_exits_non_zero_naming_the_problem(string name, string content, string expected)
    {
        var dir = Tools.NewTempDir("check");
        var file = Path.Combine(dir, $"{name}.json");
        await File.WriteAllTextAsync(file, content);
        var (exit, output) = await RunAsync(file);
        Assert.Equal(1, exit);
        Assert.Contains($"error: {file}: ", output);
        Assert.Contains(expected, output);
    }

    private static async Task<(int, string)> RunAsync(string file)
    {
        var env = new Dictionary<string, string?> { ["Gateway__Policies__admins__Roles__0"] = "admin", ["ASPNETCORE_ENVIRONMENT"] = "Production" };
        await using var process = new ServerProcess("dotnet", [Tools.GatewayDll, "config", "check", file], env, Path.GetDirectoryName(file));
        var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exit, process.Output);
    }
}
