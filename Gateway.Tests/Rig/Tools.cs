using System.Net;
using System.Net.Sockets;

namespace Gateway.Tests.Rig;

/// <summary>Finds the real tools the rig needs; a missing one fails the test with what to install.</summary>
internal static class Tools
{
    public static string Require(string name, string install)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException($"The test rig needs '{name}', which is not installed. Install it with: {install} (the README's test command does this).");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string NodeRigDir => Path.Combine(RepoRoot, "Gateway.Tests", "rig", "node");

    public static string GatewayDll => Path.Combine(AppContext.BaseDirectory, "Gateway.dll");

    public static string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gwtest-{prefix}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Gateway.sln not found above the test binaries.");
    }
}
