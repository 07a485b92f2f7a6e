using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace Gateway.Tests.Redis;

/// <summary>
/// The gateway under exactly the Redis ACL the README gives ops (read from README.md, so the two cannot drift): every
/// session operation works, and Redis denied nothing (its ACL LOG is empty), replica acknowledgement included.
/// </summary>
public sealed partial class RedisAclTests
{
    private const string AdminKey = "acl-admin-key-0123456789abcdefghijklmnop";
    private const string JwksPath = "/.well-known/jwks.json";

    [GeneratedRegex(@"^ACL SETUSER gateway .+$", RegexOptions.Multiline)]
    private static partial Regex AclLine();

    internal static string[] ReadmeAcl()
    {
        var readme = File.ReadAllText(Path.Combine(Tools.RepoRoot, "README.md"));
        var line = AclLine().Match(readme);
        Assert.True(line.Success, "README.md gives no 'ACL SETUSER gateway ...' line");
        return line.Value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(rule => rule == ">CHANGE-ME" ? ">gateway-acl-password" : rule).ToArray();
    }

    /// <summary>What Redis's ACL LOG recorded, one entry per line; empty when nothing was denied.</summary>
    private static async Task<string> DeniedAsync(IDatabase db)
    {
        var entries = (RedisResult[])(await db.ExecuteAsync("ACL", "LOG"))!;
        return string.Join("\n", entries.Select(entry =>
        {
            var fields = (RedisResult[])entry!;
            return string.Join(" ", Enumerable.Range(0, fields.Length / 2).Select(i => $"{fields[2 * i]}={fields[2 * i + 1]}"));
        }));
    }

    [Fact]
    public async Task Every_session_operation_works_under_the_readme_acl_and_redis_denies_nothing()
    {
        await using var rig = await SentinelRig.StartAsync(TimeSpan.Zero, sentinels: false);
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"{rig.PrimaryConfiguration},allowAdmin=true");
        var db = admin.GetDatabase();
        await db.ExecuteAsync("ACL", ReadmeAcl().Cast<object>().ToArray());
        await db.ExecuteAsync("ACL", "LOG", "RESET");
        await using var upstream = await RecordingUpstream.StartAsync();
        var config = new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }
            .WithRedis($"{rig.PrimaryConfiguration},user=gateway", "gw:")
            // The password apart from the configuration string, as the Kubernetes component passes it (from a Secret).
            .Set("Gateway:Redis:Password", "gateway-acl-password")
            .Set("Gateway:Admin:ApiKey", AdminKey)
            // What is asserted is the ACL, not replication speed: the replica gets time to acknowledge on a loaded machine.
            .Set("Gateway:Redis:WaitTimeout", "00:00:05");
        await using var gateway = await GatewayHost.StartAsync(config);

        using var laptop = gateway.Browser();
        using var phone = gateway.Browser();
        foreach (var browser in new[] { laptop, phone })
        {
            var login = await browser.LoginAsync("alice", "alice-password");
            Assert.True(login.StatusCode == HttpStatusCode.SeeOther,
                $"{login.StatusCode}\n{await DeniedAsync(db)}\n{string.Join("\n", gateway.Logs.Lines.Select(l => l.Event.Name + " " + l.Message))}");
        }
        using (var guesser = gateway.Browser())
            Assert.Null((await guesser.LoginAsync("alice", "wrong")).Headers.Location);
        Assert.Equal(HttpStatusCode.OK, (await laptop.ApiGetAsync("/api/whoami")).StatusCode);
        var mine = await (await laptop.ApiGetAsync("/_gateway/my-sessions")).Content.ReadAsStringAsync();
        Assert.True(mine.Contains("\"sessions\"", StringComparison.Ordinal), mine + "\n" + await DeniedAsync(db));
        Assert.Equal(2, JsonDocument.Parse(mine).RootElement.GetProperty("sessions").GetArrayLength());
        Assert.Equal(HttpStatusCode.SeeOther, (await phone.PostSameOriginAsync("/logout")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.ApiGetAsync("/api/whoami")).StatusCode);
        var everywhere = await laptop.PostSameOriginAsync("/logout?scope=all");
        Assert.True(everywhere.StatusCode == HttpStatusCode.SeeOther, $"{everywhere.StatusCode}\n{await DeniedAsync(db)}\n{string.Join("\n", gateway.Logs.Lines.Select(l => l.Event.Name + " " + l.Message))}");
        using var ops = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };
        ops.DefaultRequestHeaders.Add("Authorization", $"Bearer {AdminKey}");
        Assert.Equal(HttpStatusCode.OK, (await ops.PostAsync("/_gateway/sessions/revoke?user=admin", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ops.PostAsync("/_gateway/sessions/revoke?all=true", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ops.GetAsync(JwksPath)).StatusCode);

        var denied = await DeniedAsync(db);
        Assert.True(denied.Length == 0, "Redis denied: " + denied);
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name == "LoginSucceeded");
        // The client's configuration prints its password; nothing the gateway logs does.
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Message.Contains("gateway-acl-password", StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name is "RedisWriteNotAcknowledged" or "RedisWritesUnreplicated");
    }
}
