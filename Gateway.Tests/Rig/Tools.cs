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
    public static int FreePort()
    {
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(20000, 32000);
                if (!HandedOut.Add(port)) continue;
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                }
            }
        }
        throw new InvalidOperationException("No free loopback port found in 20000-32000.");
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
