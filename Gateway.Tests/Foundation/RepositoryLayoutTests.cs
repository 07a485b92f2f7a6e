namespace Gateway.Tests.Foundation;

/// <summary>The repository checks out the same on a disk that ignores case (macOS, Windows) as on this one.</summary>
public sealed class RepositoryLayoutTests
{
    [Fact]
    public void No_two_paths_in_the_repository_differ_only_in_case()
    {
        // Every tracked file and the folders above it: a folder "Rig" beside a folder "rig" collides as surely as two files.
        var paths = Directory.EnumerateFiles(Tools.RepoRoot, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Tools.RepoRoot, p).Replace('\\', '/'))
            .Where(p => !p.Split('/').Any(part => part is ".git" or "bin" or "obj" or "node_modules" or "TestResults" or ".test-artifacts" or "results"))
            .SelectMany(p => p.Split('/').Select((_, i) => string.Join('/', p.Split('/').Take(i + 1))))
            .Distinct(StringComparer.Ordinal)
            .ToList();

        var collisions = paths.GroupBy(p => p, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => string.Join(" / ", g)).ToList();

        Assert.NotEmpty(paths);
        Assert.Empty(collisions);
    }
}
