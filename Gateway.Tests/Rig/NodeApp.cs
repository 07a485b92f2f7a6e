namespace Gateway.Tests.Rig;

/// <summary>A node script of the rig (the CMS stand-in or the identity provider), started on a free port.</summary>
internal sealed class NodeApp : IAsyncDisposable
{
    private readonly ServerProcess _process;

    private NodeApp(ServerProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public string Output => _process.Output;

    public static async Task<NodeApp> StartAsync(string script, string readyMarker, IDictionary<string, string?> env, int? port = null)
    {
        var node = Tools.Require("node", "apt-get install -y nodejs npm");
        if (!Directory.Exists(Path.Combine(Tools.NodeRigDir, "node_modules")))
            throw new InvalidOperationException($"The node packages of the rig are not installed: run 'npm ci' in {Tools.NodeRigDir} (the README's test command does this).");
        var chosen = port ?? Tools.FreePort();
        env["PORT"] = chosen.ToString();
        var process = new ServerProcess(node, [script], env, Tools.NodeRigDir, readyMarker);
        await process.WaitReadyAsync(TimeSpan.FromSeconds(30));
        return new NodeApp(process, chosen);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
