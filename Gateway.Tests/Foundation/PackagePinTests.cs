using System.Xml.Linq;

namespace Gateway.Tests.Foundation;

/// <summary>Central package management keeps no dead pins: every version listed is one a project references.</summary>
public sealed class PackagePinTests
{
    private static readonly string[] Projects = ["Gateway/Gateway.csproj", "Gateway.Tests/Gateway.Tests.csproj", "bench/Bench/Bench.csproj"];

    [Fact]
    public void Every_pinned_package_is_referenced_by_a_project()
    {
        static IEnumerable<string> Includes(string file, string element) =>
            XDocument.Load(Path.Combine(Tools.RepoRoot, file)).Descendants(element).Select(e => (string)e.Attribute("Include")!);

        var pinned = Includes("Directory.Packages.props", "PackageVersion").ToList();
        var referenced = Projects.SelectMany(p => Includes(p, "PackageReference")).ToHashSet(StringComparer.OrdinalIgnoreCase);

        Assert.NotEmpty(pinned);
        Assert.DoesNotContain(pinned, p => !referenced.Contains(p));
    }
}
