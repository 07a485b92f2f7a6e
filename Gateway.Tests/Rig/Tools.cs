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

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A free loopback port below Linux's ephemeral range (32768-60999), so an outgoing connection of a
    /// parallel test cannot take it between this check and the server's bind; never the same one twice.
    /// </summary>
    public static int FreePort() => FreePorts(20000, 32000, offset: null);

    /// <summary>A port for a Redis Cluster node: its cluster bus listens on port + 10000, which must be free too.</summary>
    public static int FreeClusterPort() => FreePorts(20000, 22700, offset: 10000);

    private static int FreePorts(int from, int to, int? offset)
    {
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(from, to);
                if (HandedOut.Contains(port) || (offset is { } o && HandedOut.Contains(port + o))) continue;
                if (!IsFree(port) || (offset is { } bus && !IsFree(port + bus))) continue;
                HandedOut.Add(port);
                if (offset is { } reserved) HandedOut.Add(port + reserved);
                return port;
            }
        }
        throw new InvalidOperationException($"No free loopback port found in {from}-{to}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string NodeRigDir => Path.Combine(RepoRoot, "Gateway.Tests", "Rig", "node");

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
