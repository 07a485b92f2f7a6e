using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// Checks the settings that cannot work together, collecting every problem so ops fix them in one
/// pass. Each message starts with the configuration key it is about.
/// </summary>
internal sealed class GatewayOptionsValidator(IHostEnvironment environment) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var errors = Collect(options, environment.IsDevelopment());
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Collect(GatewayOptions o, bool isDevelopment)
    {
        var errors = new List<string>();
        void Add(string key, string message) => errors.Add($"Gateway:{key}: {message}");

        if (string.IsNullOrWhiteSpace(o.ProxyConfigPath)) Add("ProxyConfigPath", "must name the route file (default proxy.json).");
        if (o.ProxyConfigPollInterval < TimeSpan.FromMilliseconds(100) || o.ProxyConfigPollInterval > TimeSpan.FromMinutes(5))
            Add("ProxyConfigPollInterval", "must be between 00:00:00.1 and 00:05:00.");

        var hasRedis = !string.IsNullOrWhiteSpace(o.Redis.Configuration);
        if (!hasRedis && !isDevelopment && !o.AllowInMemorySessions)
            Add("Redis:Configuration", "is empty outside Development: sessions would live in one process and die with it. Set a Redis configuration string, or set Gateway:AllowInMemorySessions=true for a single instance on purpose.");
        o.Paths.Validate(Add);
        o.Redis.Validate(Add);
        o.KeyRing.Validate(Add, hasRedis, isDevelopment);
        o.Session.Validate(Add);
        o.Login.Validate(Add, isDevelopment);
        o.Identity.Validate(Add);
        o.Logout.Validate(Add);
        o.Forwarding.Validate(Add);
        o.Admin.Validate(Add);
        o.WarmUp.Validate(Add);
        o.LegacySignIn.Validate(Add, hasRedis);

        foreach (var (policyName, policy) in o.Policies)
        {
            if (Routing.RoutePolicyNames.IsReserved(policyName))
                Add($"Policies:{policyName}", $"'{policyName}' is a built-in policy name and cannot be redefined.");
            policy.Validate(policyName, Add, o.Login.OidcEnabled);
        }

        if (!string.IsNullOrWhiteSpace(o.OtlpEndpoint) && !Uri.TryCreate(o.OtlpEndpoint, UriKind.Absolute, out _))
            Add("OtlpEndpoint", $"'{o.OtlpEndpoint}' is not an absolute URL.");
        return errors;
    }
}
