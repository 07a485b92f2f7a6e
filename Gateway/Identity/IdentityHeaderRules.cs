using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Identity;

/// <summary>
/// Which incoming header names could be taken for an identity header: the configured prefix or
/// any output header name, compared case-insensitively with '_' read as '-'. Built once from
/// config; the per-request check compares characters without allocating.
/// </summary>
internal sealed class IdentityHeaderRules(IOptions<IdentityOptions> options)
{
    private readonly string _prefix = Normalize(options.Value.StripPrefix);
    // Beside the identity headers: client-supplied address claims that an upstream might believe. YARP sets
    // X-Forwarded-* itself; X-Real-IP and Forwarded (RFC 7239) would pass through untouched.
    private readonly string[] _exact = options.Value.OutputHeaders.Append("X-Real-IP").Append("Forwarded").Select(Normalize).Distinct().ToArray();

    public bool IsIdentityHeader(string name)
    {
        if (StartsWithNormalized(name, _prefix)) return true;
        foreach (var exact in _exact)
            if (name.Length == exact.Length && StartsWithNormalized(name, exact)) return true;
        return false;
    }

    private static bool StartsWithNormalized(string name, string normalizedPrefix)
    {
        if (name.Length < normalizedPrefix.Length) return false;
        for (var i = 0; i < normalizedPrefix.Length; i++)
        {
            var c = name[i];
            if (c == '_') c = '-';
            else if (c is >= 'A' and <= 'Z') c = (char)(c + 32);
            if (c != normalizedPrefix[i]) return false;
        }
        return true;
    }

    private static string Normalize(string name) => name.Replace('_', '-').ToLowerInvariant();
}
