using Gateway.Configuration;
using Gateway.Routing;
using Gateway.Sessions;

namespace Gateway.Hosting;

/// <summary>
/// Command-line tools in the same binary, reading the same configuration as the gateway:
/// <c>config check [path]</c> (the <c>nginx -t</c> of the route file) and
/// <c>sessions list --user ID | revoke --user ID | revoke --all</c> against the configured Redis.
/// </summary>
internal static class GatewayCommands
{
    public static bool IsCommand(string[] args) =>
        args.Length >= 2 && ((args[0] == "config" && args[1] == "check") || (args[0] == "sessions" && args[1] is "list" or "revoke"));

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            return args[0] == "config" ? await ConfigCheckAsync(args[2..]) : await SessionsAsync(args[1], args[2..]);
        }
        catch (StoreUnavailableException ex)
        {
            await Console.Error.WriteLineAsync($"error: the session store is unavailable: {ex.Message}");
            return 3;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            // Defence in depth: the check above should have caught it; never a stack trace.
            await Console.Error.WriteLineAsync($"error: the settings are not valid:{Environment.NewLine}{StartupCheck.Format(ex.Failures)}");
            return 2;
        }
    }

    private static async Task<int> ConfigCheckAsync(string[] args)
    {
        var path = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
        var rest = path is null ? args : args[1..];
        await using var app = Build(rest, validateSettings: false);
        // Only settings the binder cannot read stop this check: the rest (no Redis on an ops laptop) is the server's business.
        if (app.Services.GetRequiredService<StartupCheck>().BindErrors is { Count: > 0 } unreadable)
        {
            await Console.Error.WriteLineAsync($"error: the settings cannot be read:{Environment.NewLine}{StartupCheck.Format(unreadable)}");
            return 2;
        }
        path = Path.GetFullPath(path ?? app.Configuration["Gateway:ProxyConfigPath"] ?? "proxy.json");
        var (snapshot, _) = await ProxyConfigFileReader.ReadAsync(path, app.Configuration, CancellationToken.None);
        var errors = await app.Services.GetRequiredService<ProxyConfigValidator>().ValidateAsync(path, snapshot);
        if (errors.Count == 0)
        {
            Console.WriteLine($"{path}: OK ({snapshot.Routes.Count} routes, {snapshot.Clusters.Count} clusters)");
            return 0;
        }
        foreach (var error in errors) await Console.Error.WriteLineAsync($"error: {error}");
        await Console.Error.WriteLineAsync($"{path}: {errors.Count} problem(s)");
        return 1;
    }

    private static async Task<int> SessionsAsync(string verb, string[] args)
    {
        var user = Option(args, "--user");
        var all = args.Contains("--all");
        if ((verb == "list" && user is null) || (verb == "revoke" && (user is null == !all)))
        {
            await Console.Error.WriteLineAsync("usage: sessions list --user ID | sessions revoke --user ID | sessions revoke --all");
            return 64;
        }
        await using var app = Build(args.Where(a => a is not "--all").Except([user ?? "", "--user"]).ToArray(), validateSettings: true);
        // The server's own start-up check, before any service is resolved: a clean list of problems by key.
        var problems = app.Services.GetRequiredService<StartupCheck>().Problems(app.Environment.IsDevelopment());
        if (problems.Count > 0)
        {
            await Console.Error.WriteLineAsync($"error: the settings are not valid:{Environment.NewLine}{StartupCheck.Format(problems)}");
            return 2;
        }
        // Connect first: the per-call timeout is sized for a live connection, not for establishing one.
        if (app.Services.GetService<Redis.RedisConnection>() is { } redis) await redis.GetAsync();
        var sessions = app.Services.GetRequiredService<SessionManager>();
        if (verb == "list")
        {
            foreach (var s in await sessions.ListUserAsync(user!, CancellationToken.None))
                Console.WriteLine($"{s.SessionHash}  {s.Method,-5}  created {s.CreatedAt:u}  expires {s.AbsoluteExpiresAt:u}");
            return 0;
        }
        var count = all
            ? await sessions.RevokeAllAsync("cli-revoke-all", CancellationToken.None)
            : await sessions.RevokeUserAsync(user!, "cli-revoke-user", null, CancellationToken.None);
        Console.WriteLine($"revoked {count} session(s)");
        return 0;
    }

    private static WebApplication Build(string[] args, bool validateSettings)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddGateway(validateSettings);
        builder.Logging.ClearProviders();
        return builder.Build();
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
