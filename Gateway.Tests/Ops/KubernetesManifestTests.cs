using YamlDotNet.RepresentationModel;

namespace Gateway.Tests.Ops;

/// <summary>Every overlay renders with stock kubectl (no flags), and the rendered manifests keep the invariants ops rely on.</summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new() { "try-it", "production", "production-sentinel" };

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_renders_with_the_invariants_ops_rely_on(string overlay)
    {
        var docs = await RenderAsync(overlay);
        YamlMappingNode Single(string kind, string? name = null) =>
            Assert.Single(docs, d => Str(d, "kind") == kind && (name is null || Str(Map(d, "metadata"), "name")!.StartsWith(name, StringComparison.Ordinal)));

        var deployment = Single("Deployment", "gateway");
        var spec = Map(deployment, "spec");
        Assert.True(int.Parse(Str(spec, "replicas")!) >= 2);
        Assert.Equal("0", Str(Map(Map(spec, "strategy"), "rollingUpdate"), "maxUnavailable"));
        var pod = Map(Map(spec, "template"), "spec");
        Assert.Equal("true", Str(Map(pod, "securityContext"), "runAsNonRoot"));
        var container = (YamlMappingNode)((YamlSequenceNode)pod.Children["containers"]).Children.Single();
        Assert.Equal("/readyz", Str(Map(Map(container, "readinessProbe"), "httpGet"), "path"));
        Assert.Equal("/healthz", Str(Map(Map(container, "livenessProbe"), "httpGet"), "path"));
        var security = Map(container, "securityContext");
        Assert.Equal("true", Str(security, "readOnlyRootFilesystem"));
        Assert.Equal("false", Str(security, "allowPrivilegeEscalation"));
        Assert.Equal("ALL", ((YamlSequenceNode)Map(security, "capabilities").Children["drop"]).Children.Single().ToString());
        Assert.NotNull(Str(Map(Map(container, "resources"), "requests"), "memory"));
        Assert.NotNull(Str(Map(Map(container, "resources"), "limits"), "memory"));

        // The routes are mounted as a directory (no subPath), so ConfigMap edits reach the file poller.
        var mount = ((YamlSequenceNode)container.Children["volumeMounts"]).Children.Cast<YamlMappingNode>().Single(m => Str(m, "name") == "routes");
        Assert.False(mount.Children.ContainsKey("subPath"));
        var env = ((YamlSequenceNode)container.Children["env"]).Children.Cast<YamlMappingNode>().ToDictionary(e => Str(e, "name")!, e => e);
        Assert.Equal(Str(mount, "mountPath") + "/proxy.json", Str(env["Gateway__ProxyConfigPath"], "value"));
        if (overlay == "production-sentinel")
        {
            // The sentinels in plain configuration, the password from a Secret, and never a password in a literal.
            Assert.Contains("serviceName=", Str(env["Gateway__Redis__Configuration"], "value"));
            Assert.False(env["Gateway__Redis__Configuration"].Children.ContainsKey("valueFrom"));
            var password = Map(Map(env["Gateway__Redis__Password"], "valueFrom"), "secretKeyRef");
            Assert.Equal(("gateway-redis", "password"), (Str(password, "name"), Str(password, "key")));
            Assert.DoesNotContain(env.Values, e => Str(e, "value")?.Contains("password=", StringComparison.OrdinalIgnoreCase) == true);
            Assert.Equal("1", Str(env["Gateway__Redis__WaitReplicas"], "value"));
        }
        else
        {
            var redisSecret = Map(Map(env["Gateway__Redis__Configuration"], "valueFrom"), "secretKeyRef");
            Assert.StartsWith("gateway-secrets", Str(redisSecret, "name")!);
        }
        if (overlay.StartsWith("production", StringComparison.Ordinal))
            Assert.Equal("oidc-client-secret", Str(Map(Map(env["Gateway__Login__Oidc__ClientSecret"], "valueFrom"), "secretKeyRef"), "key"));

        // The key ring is encrypted with a key from the Secret, never a literal in the Deployment.
        Assert.Equal("key-encryption-key", Str(Map(Map(env["Gateway__KeyRing__KeyEncryptionKey"], "valueFrom"), "secretKeyRef"), "key"));
        // X-Forwarded-* is trusted from named ingress addresses only, never a whole private range.
        foreach (var (name, entry) in env.Where(e => e.Key.StartsWith("Gateway__Forwarding__", StringComparison.Ordinal)))
        {
            var value = Str(entry, "value")!;
            var prefix = int.Parse(value.Split('/') is [_, var bits] ? bits : "32");
            Assert.True(prefix >= 24, $"{name}={value} trusts X-Forwarded-* from a whole range");
        }
        if (overlay.StartsWith("production", StringComparison.Ordinal)) Assert.Contains("Gateway__Forwarding__KnownNetworks__0", env.Keys);
        // The session cache's budget is at most a third of the pod's memory limit: the process around a full cache
        // measured 435 MB RSS with 256 MB and 429-498 MB with 64 MB at 100,000 live sessions (bench --scale).
        var budget = env.TryGetValue("Gateway__Session__CacheMaxMegabytes", out var set) ? int.Parse(Str(set, "value")!) : new Gateway.Sessions.GatewaySessionOptions().CacheMaxMegabytes;
        var limit = Str(Map(Map(container, "resources"), "limits"), "memory")!;
        var limitMegabytes = limit.EndsWith("Gi", StringComparison.Ordinal) ? int.Parse(limit[..^2]) * 1024 : int.Parse(limit.TrimEnd('M', 'i'));
        Assert.True(budget * 3 <= limitMegabytes, $"{overlay}: a {budget} MB session cache in a pod limited to {limit}");
        if (overlay.StartsWith("production", StringComparison.Ordinal)) Assert.Equal(256, budget);
        var ingressPolicy = Map(Single("NetworkPolicy", "gateway-only-from-ingress"), "spec");
        Assert.Equal("gateway", Str(Map(Map(ingressPolicy, "podSelector"), "matchLabels"), "app.kubernetes.io/name"));

        var configMap = Single("ConfigMap", "gateway-routes");
        var volume = ((YamlSequenceNode)pod.Children["volumes"]).Children.Cast<YamlMappingNode>().Single(v => Str(v, "name") == "routes");
        Assert.Equal(Str(Map(configMap, "metadata"), "name"), Str(Map(volume, "configMap"), "name"));
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(Tools.RepoRoot, "proxy.json")), Str(Map(configMap, "data"), "proxy.json"));

        Assert.Equal("gateway", Str(Map(Single("Service", "gateway"), "metadata"), "name"));
        Assert.True(int.Parse(Str(Map(Single("PodDisruptionBudget"), "spec"), "minAvailable")!) >= 1);
        Assert.True(int.Parse(Str(Map(Single("HorizontalPodAutoscaler"), "spec"), "minReplicas")!) >= 2);
        var policy = Map(Single("NetworkPolicy", "cms-only-from-gateway"), "spec");
        Assert.Equal("cms", Str(Map(Map(policy, "podSelector"), "matchLabels"), "app.kubernetes.io/name"));
        var from = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)policy.Children["ingress"]).Children.Single()).Children["from"]).Children.Cast<YamlMappingNode>().Single();
        Assert.Equal("gateway", Str(Map(Map(from, "podSelector"), "matchLabels"), "app.kubernetes.io/name"));
    }

    [Fact]
    public void The_root_proxy_json_is_the_file_the_configmap_is_built_from()
    {
        // One file to edit: the root's proxy.json is a link to the one kustomize packs.
        var root = new FileInfo(Path.Combine(Tools.RepoRoot, "proxy.json"));
        Assert.Equal(Path.Combine("k8s", "base", "proxy.json"), root.LinkTarget);
        Assert.Equal(File.ReadAllText(Path.Combine(Tools.RepoRoot, "k8s", "base", "proxy.json")), File.ReadAllText(root.FullName));
    }

    private static async Task<List<YamlMappingNode>> RenderAsync(string overlay)
    {
        var kubectl = Tools.Require("kubectl", "the kubectl client (https://kubernetes.io/docs/tasks/tools/)");
        await using var process = new ServerProcess(kubectl, ["kustomize", Path.Combine(Tools.RepoRoot, "k8s", "overlays", overlay)]);
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, process.Output);
        var stream = new YamlStream();
        stream.Load(new StringReader(process.Output));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[new YamlScalarNode(key)];

    private static string? Str(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;
}
