using System.Security.Claims;
using Gateway.Sessions;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Gateway.Login;

/// <summary>Maps the provider's id_token claims to the gateway's, by the configured claim names.</summary>
internal static class OidcClaimMapper
{
    public static List<Claim> Map(JsonWebToken idToken, OidcOptions settings)
    {
        var userId = Value(idToken, settings.UserIdClaim);
        if (string.IsNullOrEmpty(userId))
            throw new Microsoft.AspNetCore.Authentication.AuthenticationFailureException($"The id_token has no '{settings.UserIdClaim}' claim (Gateway:Login:Oidc:UserIdClaim).");
        var claims = new List<Claim> { new(GatewayClaims.UserId, userId), new(GatewayClaims.Method, "oidc") };
        if (Value(idToken, settings.EmailClaim) is { Length: > 0 } email) claims.Add(new Claim(GatewayClaims.Email, email));
        if (Value(idToken, settings.NameClaim) is { Length: > 0 } name) claims.Add(new Claim(GatewayClaims.Name, name));
        if (Value(idToken, "sid") is { Length: > 0 } sid) claims.Add(new Claim(GatewayClaims.ProviderSessionId, sid));
        foreach (var role in Roles(idToken, settings.RolesClaim)) claims.Add(new Claim(GatewayClaims.Role, role));
        // auth_time is seconds since the epoch (OpenID Connect Core 2); absent unless asked for (max_age, or the client's
        // require_auth_time): the session then counts as too old for every policy with an age.
        if (long.TryParse(Value(idToken, "auth_time"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var authTime) && authTime > 0)
            claims.Add(new Claim(GatewayClaims.AuthenticatedAt, (authTime * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (Value(idToken, "acr") is { Length: > 0 } acr) claims.Add(new Claim(GatewayClaims.Acr, acr));
        return claims;
    }

    private static string? Value(JsonWebToken token, string claim) =>
        token.Claims.FirstOrDefault(c => c.Type == claim)?.Value;

    // IdentityModel yields one claim per array element; a single string may still list several roles.
    private static IEnumerable<string> Roles(JsonWebToken token, string claim) =>
        token.Claims.Where(c => c.Type == claim)
            .SelectMany(c => c.Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal);
}
