namespace Gateway.Tests.Foundation;

/// <summary>The committed tree builds and runs on a fresh clone with an empty NuGet cache, from the package feed alone: no manual step.</summary>
[Collection(nameof(FreshCloneTests))]
public sealed class FreshCloneTests
{
    [Fact]
    public async Task Fresh_clone_with_an_empty_package_cache_builds_and_runs()
    {
        var dir = Tools.NewTempDir("clone");
        try
        {
            var clone = Path.Combine(dir, "repo");
            Assert.Equal(0, await RunAsync("git", ["clone", "--quiet", Tools.RepoRoot, clone], dir, null));
            var env = new Dictionary<string, string?>
            {
                ["NUGET_PACKAGES"] = Path.Combine(dir, "packages"),
                ["DOTNET_CLI_HOME"] = Path.Combine(dir, "home"),
                ["MSBUILDDISABLENODEREUSE"] = "1",
            };
            // One package source, the feed; nothing generated or repacked before restore.
            var sources = System.Xml.Linq.XDocument.Load(Path.Combine(clone, "nuget.config")).Descendants("packageSources").SelectMany(e => e.Elements("add")).ToList();
            Assert.Equal(["nuget.org"], sources.Select(s => (string?)s.Attribute("key")));
            Assert.False(Directory.Exists(Path.Combine(clone, "build")));

            var (build, buildOutput) = await RunWithOutputAsync("dotnet", ["build", "Gateway.sln", "-nologo", "-v", "q"], clone, env);
            Assert.True(build == 0, buildOutput);
            // YARP's System.IO.Hashing came from the feed, pinned centrally.
            Assert.True(Directory.Exists(Path.Combine(dir, "packages", "system.io.hashing", "10.0.3")));

            var (run, runOutput) = await RunWithOutputAsync("dotnet", ["run", "--project", "Gateway", "--no-build", "--", "config", "check", "../proxy.json"], clone, env);
            Assert.True(run == 0, runOutput);
            Assert.Contains("OK (4 routes, 1 clusters)", runOutput);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<int> RunAsync(string file, string[] args, string cwd, Dictionary<string, string?>? env) =>
        (await RunWithOutputAsync(file, args, cwd, env)).Exit;

    private static async Task<(int Exit, string Output)> RunWithOutputAsync(string file, string[] args, string cwd, Dictionary<string, string?>? env)
    {
        await using var process = new ServerProcess(file, args, env, cwd);
        var exit = await process.WaitForExitAsync(TimeSpan.FromMinutes(8));
        return (exit, process.Output);
    }
}

/// <summary>
/// A build of the whole solution from an empty package cache takes both cores for a minute and more: alone, after the
/// parallel tests, or every timing-bound test beside it (sub-second waits, 2 s Redis budgets) pays for it.
/// </summary>
[CollectionDefinition(nameof(FreshCloneTests), DisableParallelization = true)]
public sealed class FreshCloneTestsRunAlone;
